"""The CRI-O drop-in check against CRI-O's own RuntimeHandler (cri-o pkg/config, release-1.27 to release-1.34)."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._crio import (
    DropinError,
    check_crio_dropin,
    crio_version,
    parse_crio_version,
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
