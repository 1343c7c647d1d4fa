"""Daemon decisions (sim.mcd) and CRI-O's configuration (sim.crio) without a cluster."""

from __future__ import annotations

import re

import pytest

from sim import crio, mcd, render, topology
from sim.knobs import SUPPORTED_EXTENSIONS_4_21, Knobs
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


def load(*extra: dict) -> crio.CrioConfig:
    mc = rendered(*extra)
    return crio.load(render.rendered_config(mc), mc["spec"]["extensions"], SUPPORTED_EXTENSIONS_4_21)


KATA_FILE = {"/etc/crio/crio.conf.d/50-kata": kata_dropin()}


def test_base_runtimes():
    c = load()
    assert c.default_runtime == "crun" and sorted(c.runtimes) == ["crun", "runc"]
    err = crio.handler_error("kata", c, "node-uid")
    assert err is not None and err.startswith("failed to find runtime handler kata from runtime list map[crun:0xc000")
    assert " runc:0xc000" in err and err.endswith("]")
    assert crio.handler_error("", c, "x") is None and crio.handler_error("runc", c, "x") is None


def test_kata_needs_the_extension_and_the_table():
    both = load(machine_config("50-kata", "worker", extensions=["sandboxed-containers"], files=KATA_FILE))
    assert "kata" in both.runtimes
    only_table = load(machine_config("50-kata", "worker", files=KATA_FILE))
    assert "kata" not in only_table.runtimes
    assert only_table.ignored["kata"] == ("invalid runtime_path for runtime 'kata': stat "
                                          "/usr/bin/containerd-shim-kata-v2: no such file or directory")
    only_ext = load(machine_config("50-kata", "worker", extensions=["sandboxed-containers"]))
    assert "kata" not in only_ext.runtimes


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
    with pytest.raises(crio.CrioError, match=re.escape('last key "crio.runtime.runtimes.kata.runtime_path"') +
                       ".*" + re.escape("TOML value has type int64; destination has type string")):
        load(machine_config("50-bad", "worker", files={"/etc/crio/crio.conf.d/50-bad":
                                                       "[crio.runtime.runtimes.kata]\nruntime_path = 5\n"}))


def test_broken_default_runtime_stops_crio():
    with pytest.raises(crio.CrioError, match="^" + re.escape("validating runtime config: invalid runtime_path "
                                                             "for runtime 'kata'")):
        load(machine_config("50-d", "worker", files={
            "/etc/crio/crio.conf.d/99-default": '[crio.runtime]\ndefault_runtime = "kata"\n', **KATA_FILE}))
    with pytest.raises(crio.CrioError, match=r'default_runtime set to "nope", but no runtime entry table '
                                             r"\[crio.runtime.runtimes.nope\] was found"):
        load(machine_config("50-d", "worker", files={
            "/etc/crio/crio.conf.d/99-default": '[crio.runtime]\ndefault_runtime = "nope"\n'}))


def test_dropins_apply_in_lexical_order():
    first = '[crio.runtime.runtimes.kata]\nruntime_path = "/nowhere"\n'
    c = load(machine_config("50-kata", "worker", extensions=["sandboxed-containers"], files={
        "/etc/crio/crio.conf.d/10-first": first, **KATA_FILE}))
    assert c.runtimes["kata"]["runtime_path"] == "/usr/bin/containerd-shim-kata-v2"
    c = load(machine_config("50-kata", "worker", extensions=["sandboxed-containers"], files={
        "/etc/crio/crio.conf.d/90-last": first, **KATA_FILE}))
    assert "kata" not in c.runtimes
