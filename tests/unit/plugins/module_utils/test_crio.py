"""The CRI-O drop-in check against CRI-O's own RuntimeHandler (cri-o pkg/config, release-1.27 to release-1.34)."""

from __future__ import annotations

import tomllib

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._crio import (
    MANAGED_HEADER,
    DropinError,
    check_crio_dropin,
    crio_version,
    dropin_text,
    parse_crio_version,
    render_dropin,
    toml_literal,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import parse_release
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN

V127, V129, V134 = (1, 27, 3), (1, 29, 5), (1, 34, 1)


def with_line(line: str) -> str:
    return DROPIN + line + "\n"


def test_the_default_dropin_passes_on_every_release():
    for v in (V127, V129, V134, None):
        assert check_crio_dropin(DROPIN, "kata", v)["runtime_root"] == "/run/vc"


@pytest.mark.parametrize(("line", "message"), [
    # Values of the wrong type: CRI-O's TOML decode fails and crio exits after the node's reboot.
    ('runtime_pull_image = "true"', "runtime_pull_image must be a bool, not the string 'true'"),
    ("container_min_memory = 268435456", "container_min_memory must be a string, not the integer 268435456"),
    ('allowed_annotations = "io.kubernetes.cri-o.Devices"', "allowed_annotations must be a list of strings"),
    ("monitor_env = [1, 2]", "monitor_env must be a list of strings"),
    # Keys CRI-O does not know: it would ignore them without a word.
    ('runtime_pth = "/usr/bin/x"', "has the key 'runtime_pth', which CRI-O does not know"),
])
def test_wrong_types_and_unknown_keys_are_refused(line, message):
    with pytest.raises(DropinError) as e:
        check_crio_dropin(with_line(line), "kata", V134)
    assert message in str(e.value)


def test_keys_newer_than_the_nodes_crio_are_refused_and_accepted_where_known():
    text = with_line('container_min_memory = "256MiB"')
    with pytest.raises(DropinError, match=r"CRI-O reads from 1\.29\.3 on; the chosen nodes run CRI-O 1\.27\.3"):
        check_crio_dropin(text, "kata", V127)
    assert check_crio_dropin(text, "kata", V129)["container_min_memory"] == "256MiB"
    assert check_crio_dropin(text, "kata", None)  # settings alone: any release's keys


@pytest.mark.parametrize(("table", "message"), [
    ({"runtime_path": '"containerd-shim-kata-v2"'}, "runtime_path 'containerd-shim-kata-v2' must be an absolute path"),
    ({"runtime_root": '"run/vc"'}, "runtime_root 'run/vc' must be an absolute path"),
    ({"runtime_type": '"VM"'}, "runtime_type 'VM' is not one of oci, vm, pod"),
    ({"runtime_path": '"/usr/bin/kata-runtime"'}, "does not follow the containerd shim naming pattern"),
])
def test_values_crio_would_drop_the_handler_for_are_refused(table, message):
    text = DROPIN
    for key, value in table.items():
        text = "\n".join(f"{key} = {value}" if line.startswith(key + " ") else line for line in text.splitlines())
    with pytest.raises(DropinError) as e:
        check_crio_dropin(text, "kata", V134)
    assert message in str(e.value)


def test_allowed_annotations_must_be_in_crios_list_of_that_release():
    with pytest.raises(DropinError, match=r"'io\.katacontainers\.\*', which CRI-O 1\.34\.1 does not allow"):
        check_crio_dropin(with_line('allowed_annotations = ["io.katacontainers.*"]'), "kata", V134)
    devices = with_line('allowed_annotations = ["io.kubernetes.cri-o.Devices"]')
    assert check_crio_dropin(devices, "kata", V127)["allowed_annotations"] == ["io.kubernetes.cri-o.Devices"]
    fips = with_line('allowed_annotations = ["io.kubernetes.cri-o.DisableFIPS"]')  # CRI-O 1.30 and later
    with pytest.raises(DropinError, match="does not allow"):
        check_crio_dropin(fips, "kata", V129)
    assert check_crio_dropin(fips, "kata", V134)


def test_other_tables_and_handlers_are_refused():
    with pytest.raises(DropinError, match=r"may hold only the table \[crio.runtime.runtimes.kata\]"):
        check_crio_dropin(DROPIN + '[crio.runtime]\ndefault_runtime = "kata"\n', "kata", V134)
    with pytest.raises(DropinError, match=r"no \[crio.runtime.runtimes.kata-qemu\] table"):
        check_crio_dropin(DROPIN, "kata-qemu", V134)
    with pytest.raises(DropinError, match="not valid TOML"):
        check_crio_dropin("[crio.runtime.runtimes.kata\nruntime_path=", "kata")
    with pytest.raises(DropinError, match="needs runtime_type"):
        check_crio_dropin('[crio.runtime.runtimes.kata]\nruntime_path = "/x"\n', "kata")


def test_the_crio_version_comes_from_the_nodes_else_the_release():
    assert parse_crio_version("cri-o://1.29.5-3.rhaos4.16.gitabc.el9") == (1, 29, 5)
    nodes = [{"status": {"nodeInfo": {"containerRuntimeVersion": v}}}
             for v in ("cri-o://1.31.4-2.rhaos4.18", "cri-o://1.31.2-1.rhaos4.18")]
    assert crio_version(nodes) == (1, 31, 2)
    assert crio_version([{}], parse_release("4.16.3")) == (1, 29, 0)
    assert crio_version([{}]) == (1, 27, 0)


# -- the drop-in written by a function (issue 12 item 4): one table, keys by name, values as TOML literals --------

SETTINGS = {"runtime_path": "/usr/bin/containerd-shim-kata-v2", "runtime_type": "vm", "runtime_root": "/run/vc",
            "privileged_without_host_devices": True, "runtime_config_path": "", "allowed_annotations": []}


def test_the_default_dropin_is_the_one_the_template_wrote():
    # Byte for byte, header included: a changed drop-in would reboot every node of the pool on the next run.
    assert render_dropin("kata", SETTINGS, {}) == MANAGED_HEADER + "\n" + DROPIN


@pytest.mark.parametrize("key", [
    "a = 1\n[crio.runtime]\ndefault_runtime",  # the reported injection: every pod of the node in Kata
    "x = 1\n[crio.image]\nsignature_policy",
    'runtime_pull_image"',
    "crio.runtime.default_runtime",
    "[crio]",
    "",
])
def test_extra_option_keys_are_checked_by_name_before_anything_is_written(key):
    with pytest.raises(DropinError, match=r"sandboxed_containers_crio_extra_options has the key .*which CRI-O "
                                          r"does not know"):
        dropin_text("kata", SETTINGS, {key: "kata"})


def test_an_extra_option_cannot_replace_a_setting_of_its_own():
    with pytest.raises(DropinError, match="'runtime_type', which has a setting of its own: set "
                                          "sandboxed_containers_crio_runtime_type instead"):
        render_dropin("kata", SETTINGS, {"runtime_type": "oci"})


@pytest.mark.parametrize("handler", ["k[a]ta", "kata]\n[crio.runtime", "kata.qemu", 'ka"ta', "kata\n", "Kata",
                                     "-kata", "a" * 64, "", None, 1])
def test_the_handler_must_be_a_dns_label(handler):
    with pytest.raises(DropinError, match=r"sandboxed_containers_handler .* must be a DNS label"):
        render_dropin(handler, SETTINGS, {})


@pytest.mark.parametrize("value", [
    'x"\n[crio.runtime]\ndefault_runtime = "kata',  # a quote and a newline stay inside the string
    "back\\slash\ttab\r\x00\x7f",
    "non-BMP 🔒 é",
    "'''",
])
def test_values_are_toml_literals_that_parse_back_to_themselves(value):
    extra = {"monitor_env": [value], "default_annotations": {value: value}}
    text = dropin_text("kata", {**SETTINGS, "runtime_config_path": value}, extra)
    doc = tomllib.loads(text)
    assert set(doc) == {"crio"} and set(doc["crio"]["runtime"]["runtimes"]) == {"kata"}
    table = doc["crio"]["runtime"]["runtimes"]["kata"]
    assert table["runtime_config_path"] == value
    assert table["monitor_env"] == [value]
    assert table["default_annotations"] == {value: value}


def test_toml_literals_of_every_type():
    assert toml_literal(True) == "true"
    assert toml_literal(7) == "7"
    assert toml_literal("a") == '"a"'
    assert toml_literal(["a", "b"]) == '["a", "b"]'
    assert toml_literal({"linux/amd64": "/x"}) == '{"linux/amd64" = "/x"}'
    with pytest.raises(DropinError, match="is not a value CRI-O's handler table can hold"):
        toml_literal(None, "sandboxed_containers_crio_extra_options.x")
    with pytest.raises(DropinError, match="is not a value"):
        toml_literal(float("nan"))


def test_types_crio_refuses_are_refused_after_rendering():
    with pytest.raises(DropinError, match="runtime_pull_image must be a bool, not the string 'true'"):
        render_dropin("kata", SETTINGS, {"runtime_pull_image": "true"})
    with pytest.raises(DropinError, match="sandboxed_containers_crio_extra_options must be a mapping"):
        render_dropin("kata", SETTINGS, ["runtime_pull_image"])


def test_runtime_type_must_be_vm_unless_allowed():
    runc = {**SETTINGS, "runtime_type": "oci", "runtime_path": "/usr/bin/crun"}
    with pytest.raises(DropinError, match=r"runtime_type 'oci' would run the runtime class's pods as plain "
                                          r"containers.*sandboxed_containers_crio_allow_non_vm_runtime"):
        render_dropin("kata", runc, {})
    with pytest.raises(DropinError, match="runtime_type 'oci' would run"):
        check_crio_dropin(dropin_text("kata", runc, {}), "kata", V134, require_vm=True)
    assert render_dropin("kata", runc, {}, allow_non_vm_runtime=True).count("[crio.runtime.runtimes.kata]") == 1


@pytest.mark.parametrize("extra", [{"monitor_env": ["A=1\nB=2"]}, {"default_annotations": {"a\tb": "c"}},
                                   {"container_min_memory": "256MiB\x7f"}])
def test_control_characters_in_values_are_refused(extra):
    with pytest.raises(DropinError, match="has a control character"):
        render_dropin("kata", SETTINGS, extra)
    with pytest.raises(DropinError, match="runtime_root '/run/vc\\\\n\\[x\\]' has a control character"):
        render_dropin("kata", {**SETTINGS, "runtime_root": "/run/vc\n[x]"}, {})
