"""Daemon decisions (sim.mcd) and CRI-O's configuration (sim.crio) without a cluster."""

from __future__ import annotations

import re

import pytest

from sim import crio, mcd, releases, render, topology
from sim.knobs import Knobs
from sim.testing import kata_dropin, machine_config

WORKER = {"metadata": {"name": "worker", "uid": "u"},
          "spec": {"machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "worker"}}}}
BASE = topology.base_machine_configs("worker")


def rendered(*extra: dict) -> dict:
    return render.render(WORKER, [*BASE, *extra], Knobs(), None).machine_config


OLD = rendered()


def actions(*extra: dict) -> list[str]:
    return mcd.post_config_actions(mcd.diff(OLD, rendered(*extra)))


def test_identical_content_needs_nothing():
    d = mcd.diff(OLD, rendered())
    assert d.empty and mcd.post_config_actions(d) == ["none"]


@pytest.mark.parametrize("extra", [
    machine_config("50-ext", "worker", extensions=["sandboxed-containers"], ignition_version=None),
    machine_config("50-karg", "worker", kernel_arguments=["nosmt"]),
    machine_config("50-rt", "worker", kernel_type="realtime"),
    machine_config("50-file", "worker", files={"/etc/crio/crio.conf.d/50-kata": kata_dropin()}),
    machine_config("50-unit", "worker", units=[{"name": "x.service", "enabled": True, "contents": "[Unit]\n"}]),
])
def test_changes_that_reboot(extra):
    assert actions(extra) == ["reboot"]
    assert mcd.drain_required(["reboot"], "HighlyAvailable")
    assert not mcd.drain_required(["reboot"], "SingleReplica")


def test_os_image_change_reboots():
    img = machine_config("50-img", "worker")
    img["spec"]["osImageURL"] = "registry.invalid/x/os@sha256:" + "2" * 64
    d = mcd.diff(OLD, rendered(img))
    assert d.os_update and d.os_changes() == "Upgrading OS" and mcd.post_config_actions(d) == ["reboot"]


def test_paths_that_do_not_reboot():
    reg = machine_config("99-z-reg", "worker", files={"/etc/containers/registries.conf": "x = 1\n"})
    assert actions(reg) == ["reload crio"]
    ca = machine_config("99-z-ca", "worker", files={"/etc/kubernetes/kubelet-ca.crt": "new\n"})
    assert actions(ca) == ["none"]
    user_ca = machine_config("99-z-uca", "worker", files={
        "/etc/pki/ca-trust/source/anchors/openshift-config-user-ca-bundle.crt": "ca\n"})
    assert actions(user_ca, reg) == ["restart crio"]
    regd = machine_config("99-z-rd", "worker", files={"/etc/containers/registries.d/x.yaml": "a: b\n"})
    assert actions(regd) == ["reload crio"]
    assert actions(reg, machine_config("50-f", "worker", files={"/etc/other": "x"})) == ["reboot"]
    ssh = machine_config("99-z-ssh", "worker")
    ssh["spec"]["config"]["passwd"] = {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA new"]}]}
    d = mcd.diff(OLD, rendered(ssh))
    assert d.passwd and not d.empty and mcd.post_config_actions(d) == ["none"]


def test_same_extensions_in_another_order_reboot():
    a = rendered(machine_config("50-a", "worker", extensions=["usbguard", "sysstat"], ignition_version=None))
    b = rendered(machine_config("50-a", "worker", extensions=["sysstat", "usbguard"], ignition_version=None))
    assert mcd.diff(a, b).extensions  # a different list is a change, as in the MCD


def load(*extra: dict, version: str = "4.21", os: str = "rhcos", arch: str = "amd64") -> crio.CrioConfig:
    """CRI-O on a node of that release, OS and architecture booted into the worker config plus `extra`."""
    rel = releases.release(version)
    mc = render.render(WORKER, [*topology.base_machine_configs("worker", rel), *extra],
                       Knobs(openshift_version=version), None).machine_config
    packages = mcd.installed_packages(mc["spec"]["extensions"], os, arch, rel)
    return crio.load(render.rendered_config(mc), packages, rel)


KATA_FILE = {"/etc/crio/crio.conf.d/50-kata": kata_dropin()}
EXT = ["sandboxed-containers"]


def test_base_runtimes():
    c = load()
    assert c.default_runtime == "crun" and sorted(c.runtimes) == ["crun", "runc"]
    err = crio.handler_error("kata", c, "node-uid")
    assert err is not None and err.startswith("failed to find runtime handler kata from runtime list map[crun:0xc000")
    assert " runc:0xc000" in err and err.endswith("]")
    assert crio.handler_error("", c, "x") is None and crio.handler_error("runc", c, "x") is None


def test_base_runtimes_per_release():
    # 4.14: 00-default has no runtime tables, CRI-O 1.27's built-in runc is the only one
    c = load(version="4.14")
    assert (c.default_runtime, sorted(c.runtimes)) == ("runc", ["runc"])
    # 4.15-4.17: runc and crun tables, no default_runtime: CRI-O's built-in default runc
    c = load(version="4.16")
    assert (c.default_runtime, sorted(c.runtimes)) == ("runc", ["crun", "runc"])
    # 4.18+: default_runtime = "crun"
    assert load(version="4.18").default_runtime == "crun"


def test_kata_rpm_brings_its_own_dropin():
    # The premise changed: on RHCOS the kata-containers RPM ships /etc/crio/crio.conf.d/50-kata, so the
    # extension alone gives the kata handler (it used to need the table from a MachineConfig too).
    both = load(machine_config("50-kata", "worker", extensions=EXT, files=KATA_FILE))
    assert "kata" in both.runtimes
    only_ext = load(machine_config("50-kata", "worker", extensions=EXT))
    assert only_ext.runtimes["kata"]["runtime_path"] == "/usr/bin/containerd-shim-kata-v2"
    assert only_ext.runtimes["kata"]["runtime_type"] == "vm"
    only_table = load(machine_config("50-kata", "worker", files=KATA_FILE))
    assert "kata" not in only_table.runtimes
    assert only_table.ignored["kata"] == ("invalid runtime_path for runtime 'kata': stat "
                                          "/usr/bin/containerd-shim-kata-v2: no such file or directory")
    # 1.29 and older quote the stat error
    assert load(machine_config("50-kata", "worker", files=KATA_FILE), version="4.16").ignored["kata"].endswith(
        ': "stat /usr/bin/containerd-shim-kata-v2: no such file or directory"')


def test_a_config_file_at_the_rpm_path_shadows_it():
    other = "[crio.runtime.runtimes.kata-other]\nruntime_path = \"/usr/bin/containerd-shim-kata-v2\"\n" \
            "runtime_type = \"vm\"\n"
    c = load(machine_config("50-kata", "worker", extensions=EXT, files={"/etc/crio/crio.conf.d/50-kata": other}))
    assert "kata" not in c.runtimes and "kata-other" in c.runtimes
    assert [path for path, _data in crio.dropins({}, ["kata-containers"])] == ["/etc/crio/crio.conf.d/50-kata"]


def test_a_later_table_replaces_the_whole_handler():
    # BurntSushi/toml's unifyMap makes a fresh handler for each table: 51-x's kata has only annotations,
    # so its runtime_path is "" and CRI-O looks for a binary named "kata" (research A3)
    later = '[crio.runtime.runtimes.kata]\nallowed_annotations = ["io.kubernetes.cri-o.Devices"]\n'
    c = load(machine_config("50-kata", "worker", extensions=EXT, files={"/etc/crio/crio.conf.d/51-x": later}))
    assert "kata" not in c.runtimes
    assert c.ignored["kata"] == '"kata" not found in $PATH: exec: "kata": executable file not found in $PATH'


def test_unknown_keys_are_ignored_per_crio_release():
    table = "[crio.runtime.runtimes.kata]\nruntime_path = \"/usr/bin/containerd-shim-kata-v2\"\nruntime_type = \"vm\"\n"
    bogus = load(machine_config("51-x", "worker", extensions=EXT, files={
        "/etc/crio/crio.conf.d/51-x": table + "bogus_key = 1\n[crio.runtime.bogus_table]\nx = \"y\"\n"}))
    assert "kata" in bogus.runtimes
    pull = {"/etc/crio/crio.conf.d/51-x": table + 'runtime_pull_image = "true"\n'}
    # CRI-O 1.27 (4.14) does not know runtime_pull_image: ignored, even with a wrong type
    assert "kata" in load(machine_config("51-x", "worker", extensions=EXT, files=pull), version="4.14").runtimes
    with pytest.raises(crio.CrioError) as e:
        load(machine_config("51-x", "worker", extensions=EXT, files=pull), version="4.21")
    assert str(e.value) == (
        "update config from path: walk path: unable to decode configuration /etc/crio/crio.conf.d/51-x: toml: "
        'line 4 (last key "crio.runtime.runtimes.kata.runtime_pull_image"): incompatible types: TOML value has '
        "type string; destination has type boolean")
    assert crio.handler_fields(27).keys() < crio.handler_fields(34).keys()
    assert "inherit_default_runtime" not in crio.handler_fields(30) and "stream_websockets" in crio.handler_fields(34)


def test_type_errors_per_crio_release():
    mem = {"/etc/crio/crio.conf.d/51-x": "[crio.runtime.runtimes.kata]\ncontainer_min_memory = 268435456\n"}
    with pytest.raises(crio.CrioError) as e:
        load(machine_config("51-x", "worker", files=mem), version="4.16")
    # CRI-O 1.29 does not wrap the error (no "walk path" before 1.31)
    assert str(e.value) == (
        "unable to decode configuration /etc/crio/crio.conf.d/51-x: toml: line 2 (last key "
        '"crio.runtime.runtimes.kata.container_min_memory"): incompatible types: TOML value has type int64; '
        "destination has type string")
    ann = {"/etc/crio/crio.conf.d/51-x": '[crio.runtime.runtimes.kata]\nallowed_annotations = "x"\n'}
    with pytest.raises(crio.CrioError, match=r"TOML value has type string; destination has type slice$"):
        load(machine_config("51-x", "worker", files=ann))
    lst = {"/etc/crio/crio.conf.d/51-x": "[crio.runtime.runtimes.kata]\nruntime_path = [1]\n"}
    with pytest.raises(crio.CrioError, match=re.escape("type []any; destination has type string")):
        load(machine_config("51-x", "worker", files=lst))
    with pytest.raises(crio.CrioError, match=re.escape("type []interface {}; destination has type string")):
        load(machine_config("51-x", "worker", files=lst), version="4.14")


def test_invalid_handlers_are_dropped():
    table = '[crio.runtime.runtimes.x]\nruntime_path = "/usr/bin/runc"\nruntime_type = "nope"\n'
    bad_type = load(machine_config("50-x", "worker", files={"/etc/crio/crio.conf.d/50-x": table}))
    assert bad_type.ignored["x"] == 'invalid `runtime_type` "nope" for runtime "x"'
    pattern = load(machine_config("50-x", "worker", files={"/etc/crio/crio.conf.d/50-x":
                                  '[crio.runtime.runtimes.x]\nruntime_path = "/usr/bin/runc"\nruntime_type = "vm"\n'}))
    assert "containerd binary naming pattern is not followed" in pattern.ignored["x"]
    path_lookup = load(machine_config("50-x", "worker", files={"/etc/crio/crio.conf.d/50-x":
                                      "[crio.runtime.runtimes.runc]\nruntime_path = \"\"\n"}))
    assert "runc" in path_lookup.runtimes


def test_undecodable_dropin_stops_crio():
    with pytest.raises(crio.CrioError) as e:
        load(machine_config("50-bad", "worker", files={"/etc/crio/crio.conf.d/50-bad": "[crio.runtime\nx = 1\n"}))
    assert str(e.value).startswith("update config from path: walk path: unable to decode configuration "
                                   "/etc/crio/crio.conf.d/50-bad: toml: line 1: ")
    with pytest.raises(crio.CrioError, match=re.escape('line 2 (last key "crio.runtime.runtimes.kata.runtime_path")')
                       + ".*" + re.escape("TOML value has type int64; destination has type string")):
        load(machine_config("50-bad", "worker", files={"/etc/crio/crio.conf.d/50-bad":
                                                       "[crio.runtime.runtimes.kata]\nruntime_path = 5\n"}))


def test_broken_default_runtime_stops_crio():
    with pytest.raises(crio.CrioError, match="^" + re.escape("validating runtime config: runtime validation: invalid "
                                                             "runtime_path for runtime 'kata'")):
        load(machine_config("50-d", "worker", files={
            "/etc/crio/crio.conf.d/99-default": '[crio.runtime]\ndefault_runtime = "kata"\n', **KATA_FILE}))
    with pytest.raises(crio.CrioError, match=r'default_runtime set to "nope", but no runtime entry table '
                                             r"\[crio.runtime.runtimes.nope\] was found"):
        load(machine_config("50-d", "worker", files={
            "/etc/crio/crio.conf.d/99-default": '[crio.runtime]\ndefault_runtime = "nope"\n'}))


def test_dropins_apply_in_lexical_order():
    first = '[crio.runtime.runtimes.kata]\nruntime_path = "/nowhere"\n'
    c = load(machine_config("50-kata", "worker", extensions=EXT, files={
        "/etc/crio/crio.conf.d/10-first": first, **KATA_FILE}))
    assert c.runtimes["kata"]["runtime_path"] == "/usr/bin/containerd-shim-kata-v2"
    c = load(machine_config("50-kata", "worker", extensions=EXT, files={
        "/etc/crio/crio.conf.d/90-last": first, **KATA_FILE}))
    assert "kata" not in c.runtimes


# -- extensions on each OS and architecture ---------------------------------------------------

R414, R415, R416, R421 = (releases.release(v) for v in ("4.14", "4.15", "4.16", "4.21"))
ALLOWED = tuple(R421.supported_extensions)


def test_extension_packages_by_os():
    assert mcd.installed_packages(EXT, "rhcos", "amd64", R421) == {"kata-containers"}
    assert mcd.installed_packages(EXT, "scos", "amd64", R421) == {"kata-containers"}
    # FCOS up to 4.19 takes the names as packages; from 4.20 extensions are not applied at all
    assert mcd.installed_packages(["kata-containers"], "fcos", "amd64", R415) == {"kata-containers"}
    assert mcd.installed_packages(["kata-containers"], "fcos", "amd64", R421) == set()
    assert mcd.layered_packages(["ipsec", "usbguard"], "rhcos", R416) == ["NetworkManager-libreswan", "libreswan",
                                                                          "usbguard"]
    assert mcd.layered_packages(["usbguard", "ipsec"], "rhcos", R421) == sorted(
        ["NetworkManager-libreswan", "libreswan", "usbguard"])  # 4.20+: sets.List, sorted


def test_rpm_ostree_cannot_find_a_package_for_the_architecture():
    msg = ("error running rpm-ostree update --install kata-containers: error: Packages not found: "
           "kata-containers\n: exit status 1")
    for arch in ("arm64", "ppc64le"):
        assert mcd.apply_extensions_error([], EXT, "rhcos", arch, R421, ALLOWED) == msg
    assert mcd.apply_extensions_error([], EXT, "rhcos", "s390x", R421, ALLOWED) is None
    assert mcd.apply_extensions_error([], EXT, "scos", "s390x", R421, ALLOWED) == msg  # CentOS: x86_64 only
    assert mcd.apply_extensions_error([], EXT, "rhcos", "amd64", R421, ALLOWED) is None
    assert mcd.installed_packages(EXT, "rhcos", "arm64", R421) == set()
    # FCOS (OKD <= 4.15): the extension name goes to rpm-ostree as a package name
    assert mcd.apply_extensions_error([], EXT, "fcos", "amd64", R415, ALLOWED) == (
        "error running rpm-ostree update --install sandboxed-containers: error: Packages not found: "
        "sandboxed-containers\n: exit status 1")
    assert mcd.apply_extensions_error([], ["kata-containers"], "fcos", "amd64", R415, ALLOWED) is None
    assert mcd.apply_extensions_error([], EXT, "fcos", "amd64", R421, ALLOWED) is None  # 4.20+: not applied


def test_daemon_validates_extension_names_only_on_el():
    assert mcd.apply_extensions_error([], ["foo"], "rhcos", "amd64", R414, ALLOWED) == "invalid extensions found: [foo]"
    assert mcd.apply_extensions_error([], ["foo"], "scos", "amd64", R414, ALLOWED) == "invalid extensions found: [foo]"
    assert "Packages not found: foo" in mcd.apply_extensions_error([], ["foo"], "fcos", "amd64", R414, ALLOWED)
    assert mcd.apply_extensions_error(EXT, EXT, "rhcos", "arm64", R421, ALLOWED) is None  # nothing to do


def test_file_actions_per_release():
    assert mcd.actions_for_files(["/etc/mco/internal-registry-pull-secret.json"], R414) == ["none"]
    assert mcd.actions_for_files(["/etc/mco/internal-registry-pull-secret.json"], R416) == ["reboot"]
    assert mcd.actions_for_files(["/etc/containers/registries.d/x.yaml"], R415) == ["reboot"]
    assert mcd.actions_for_files(["/etc/containers/registries.d/x.yaml"], R416) == ["reload crio"]
    assert mcd.actions_for_files(["/etc/containers/registries.d/a/b.yaml"], R416) == ["reboot"]
    assert mcd.actions_for_files(["/etc/containers/registries.d/a/b.yaml"], R421) == ["reload crio"]
    assert mcd.actions_for_files(["/etc/crio/policies/x.json"], releases.release("4.17")) == ["reboot"]
    assert mcd.actions_for_files(["/etc/crio/policies/x.json"], releases.release("4.18")) == ["reload crio"]
    assert mcd.actions_for_files(["/etc/crio/crio.conf.d/50-kata"], R421) == ["reboot"]
