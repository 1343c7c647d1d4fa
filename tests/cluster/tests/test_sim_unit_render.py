"""Render controller logic (sim.render, sim.ignition) without a cluster."""

from __future__ import annotations

import base64
import copy
import gzip

import pytest

from sim import ignition, render, topology
from sim.constants import CONTROLLER_VERSION, GENERATED_BY, OS_IMAGE_URL, OS_IMAGE_URL_OVERRIDDEN
from sim.knobs import Knobs
from sim.testing import kata_dropin, machine_config

WORKER = {"metadata": {"name": "worker", "uid": "uid-worker"},
          "spec": {"machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "worker"}},
                   "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/worker": ""}}}}
KATA_POOL = {"metadata": {"name": "kata-oc", "uid": "uid-kata"},
             "spec": {"machineConfigSelector": {"matchExpressions": [
                 {"key": "machineconfiguration.openshift.io/role", "operator": "In", "values": ["kata-oc", "worker"]}]},
                 "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/kata-oc": ""}}}}
BASE = topology.base_machine_configs("worker") + topology.base_machine_configs("master")
KNOBS = Knobs()
PREFIX = "Failed to render configuration for pool worker: could not generate rendered MachineConfig: "


def kata_mc(role: str = "worker", **kw) -> dict:
    return machine_config("50-kata", role, extensions=["sandboxed-containers"],
                          files={"/etc/crio/crio.conf.d/50-kata": kata_dropin()}, **kw)


def fail(pool: dict, mcs: list[dict], knobs: Knobs = KNOBS, current: dict | None = None) -> str:
    with pytest.raises(render.RenderError) as e:
        render.render(pool, mcs, knobs, current)
    return render.failing_message(pool["metadata"]["name"], e.value)


def test_selects_by_selector_and_merges_worker_role_first():
    custom = machine_config("10-custom", "kata-oc", files={"/etc/a": "custom"})
    worker = machine_config("99-z-worker", "worker", files={"/etc/a": "worker"})
    r = render.render(KATA_POOL, [*BASE, custom, worker], KNOBS, None)
    names = [s["name"] for s in r.source]
    # worker-role configs first (by name), then the others: the custom pool's config wins
    assert names[-1] == "10-custom"
    assert names[:-1] == sorted(n for n in names if n != "10-custom")
    assert "00-master" not in names
    files = {f["path"]: f for f in render.rendered_config(r.machine_config)["storage"]["files"]}
    assert ignition.file_contents(files["/etc/a"]) == b"custom"
    assert all(s["kind"] == "MachineConfig" and s["apiVersion"] == "machineconfiguration.openshift.io/v1"
               for s in r.source)


def test_rendered_object_shape_and_deterministic_name():
    r1 = render.render(WORKER, BASE, KNOBS, None)
    r2 = render.render(WORKER, list(reversed(BASE)), KNOBS, None)
    assert r1.name == r2.name
    assert r1.name.startswith("rendered-worker-") and len(r1.name) == len("rendered-worker-") + 32
    mc = r1.machine_config
    assert "labels" not in mc["metadata"]
    assert mc["metadata"]["ownerReferences"] == [{
        "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool", "name": "worker",
        "uid": "uid-worker", "controller": True, "blockOwnerDeletion": True}]
    assert mc["metadata"]["annotations"][GENERATED_BY] == CONTROLLER_VERSION
    assert mc["metadata"]["annotations"]["machineconfiguration.openshift.io/release-image-version"] == "4.21.0"
    spec = mc["spec"]
    assert spec["config"]["ignition"]["version"] == "3.5.0"
    assert spec["kernelType"] == "default" and spec["fips"] is False
    assert spec["osImageURL"] == OS_IMAGE_URL
    assert all(f["overwrite"] is True for f in spec["config"]["storage"]["files"])
    # same merged spec, other pool: same hash, other name
    other = copy.deepcopy(WORKER)
    other["metadata"]["name"] = "infra"
    assert render.render(other, BASE, KNOBS, None).name == r1.name.replace("worker", "infra")


def test_content_changes_the_name():
    base = render.render(WORKER, BASE, KNOBS, None).name
    assert render.render(WORKER, [*BASE, kata_mc()], KNOBS, None).name != base
    # an MC that changes nothing in the merged spec renders the same config
    same = machine_config("60-nothing", "worker")
    assert render.render(WORKER, [*BASE, same], KNOBS, None).name == base


def test_extensions_and_kernel_arguments_concatenate_in_merge_order():
    a = machine_config("20-a", "worker", extensions=["usbguard", "sandboxed-containers"], kernel_arguments=["a=1"])
    b = machine_config("10-b", "worker", extensions=["sandboxed-containers"], kernel_arguments=["a=1", "b"])
    spec = render.render(WORKER, [*BASE, a, b], KNOBS, None).machine_config["spec"]
    assert spec["extensions"] == ["sandboxed-containers", "usbguard", "sandboxed-containers"]  # no dedupe
    assert spec["kernelArguments"] == ["a=1", "b", "a=1"]


def test_kernel_type_and_user_os_image_override():
    rt = machine_config("30-rt", "worker", kernel_type="realtime")
    img = machine_config("40-img", "worker")
    img["spec"]["osImageURL"] = "registry.invalid/me/os@sha256:" + "1" * 64
    mc = render.render(WORKER, [*BASE, rt, img], KNOBS, None).machine_config
    assert mc["spec"]["kernelType"] == "realtime"
    assert mc["spec"]["osImageURL"] == img["spec"]["osImageURL"]
    assert mc["metadata"]["annotations"][OS_IMAGE_URL_OVERRIDDEN] == "true"
    # a generated config cannot override the image
    img["metadata"]["annotations"] = {GENERATED_BY: CONTROLLER_VERSION}
    assert render.render(WORKER, [*BASE, img], KNOBS, None).machine_config["spec"]["osImageURL"] == OS_IMAGE_URL


def test_kernel_devel_needs_the_default_kernel():
    rt = machine_config("30-rt", "worker", kernel_type="realtime", extensions=["kernel-devel"])
    assert fail(WORKER, [*BASE, rt]) == PREFIX + ("installing kernel-devel extension is not supported with "
                                                  "kernelType: realtime")


def test_invalid_extension_message():
    bad = machine_config("50-bad", "worker", extensions=["kata-containers", "sandboxed-containers", "foo"])
    assert fail(WORKER, [*BASE, bad]) == PREFIX + "invalid extensions found: [kata-containers foo]"


def test_extension_check_depends_on_spec_config_and_version():
    no_config = machine_config("50-bad", "worker", extensions=["foo"], ignition_version=None)
    # 4.18+: only MCs that carry spec.config are checked at render time
    assert render.render(WORKER, [*BASE, no_config], KNOBS, None).machine_config["spec"]["extensions"] == ["foo"]
    # 4.16/4.17: every MC
    assert fail(WORKER, [*BASE, no_config], Knobs(extension_validation="always")).endswith(
        "invalid extensions found: [foo]")
    # 4.15 and older: only the daemon
    with_config = machine_config("50-bad", "worker", extensions=["foo"])
    render.render(WORKER, [*BASE, with_config], Knobs(extension_validation="daemon"), None)
    # the allow-list is a knob
    assert fail(WORKER, [*BASE, kata_mc()], Knobs(supported_extensions=("usbguard",))).endswith(
        "invalid extensions found: [sandboxed-containers]")


def test_kernel_type_validation():
    mc = machine_config("30-k", "worker", kernel_type="rt")
    assert fail(WORKER, [*BASE, mc]) == PREFIX + "kernelType=rt is invalid"


def test_no_machine_configs_message():
    assert fail(KATA_POOL, []) == ("Failed to render configuration for pool kata-oc: no MachineConfigs found "
                                   "matching selector machineconfiguration.openshift.io/role in (kata-oc,worker)")
    assert fail(WORKER, []) == ("Failed to render configuration for pool worker: no MachineConfigs found matching "
                                "selector machineconfiguration.openshift.io/role=worker")


def test_ignition_version_messages():
    mc = machine_config("50-v", "worker", ignition_version="3.2")
    assert fail(WORKER, [mc]) == PREFIX + ("parsing Ignition config failed: invalid version. Supported spec "
                                           "versions: 2.2,3.1,3.2,3.3,3.4,3.5")
    mc = machine_config("50-v", "worker", ignition_version="3.6.0")
    assert fail(WORKER, [mc]) == PREFIX + ("parsing Ignition config failed: unknown version. Supported spec "
                                           "versions: 2.2,3.1,3.2,3.3,3.4,3.5")
    mc = machine_config("50-v", "worker")
    mc["spec"]["config"] = {}
    assert "invalid version" in fail(WORKER, [mc])
    for v in ("3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0", "2.2.0"):
        render.render(WORKER, [*BASE, machine_config("50-v", "worker", ignition_version=v)], KNOBS, None)


def test_relative_path_report_points_at_the_json():
    mc = machine_config("50-rel", "worker", files={"etc/foo": "x"})
    msg = fail(WORKER, [*BASE, mc])
    raw, _offsets = ignition.go_json(mc["spec"]["config"])
    col = raw.decode().index('"etc/foo"') + 1
    assert msg == PREFIX + ("parsing Ignition config spec v3 failed with error: config is not valid\n"
                            f"Report: error at $.storage.files.0.path, line 1 col {col}: path not absolute\n")


def test_path_and_url_and_mode_validation():
    def report(cfg: dict) -> str:
        with pytest.raises(ignition.IgnitionError) as e:
            ignition.validate_machine_config_ignition(cfg)
        return str(e.value)

    def cfg(**file) -> dict:
        return {"ignition": {"version": "3.2.0"}, "storage": {"files": [{"path": "/etc/x", **file}]}}

    assert "path is not fully simplified" in report(cfg(path="/etc/../x"))
    assert "error at $.storage.files.0.contents.source" in report(cfg(contents={"source": "data:text/plain;base64,@@"}))
    assert "illegal base64 data at input byte 0" in report(cfg(contents={"source": "data:text/plain;base64,@@"}))
    assert "missing comma before data" in report(cfg(contents={"source": "data:text/plain"}))
    assert "invalid url scheme" in report(cfg(contents={"source": "file:///etc/passwd"}))
    assert "illegal file mode" in report(cfg(mode=0o17777))
    assert report(cfg(mode=0o4755, contents={"source": "data:,x"})) == ("invalid mode 04755 for /etc/x, "
                                                                        "cannot exceed 0777")
    assert "invalid systemd unit extension" in report(
        {"ignition": {"version": "3.2.0"}, "systemd": {"units": [{"name": "foo"}]}})
    dup = {"ignition": {"version": "3.2.0"}, "storage": {"files": [{"path": "/a"}, {"path": "/a"}]}}
    assert "error at $.storage.files.1, line 1 col" in report(dup) and "duplicate entry defined" in report(dup)
    assert "cannot unmarshal string into Go struct field File.storage.files.mode of type int" in report(
        cfg(mode="0644"))
    ignition.validate_machine_config_ignition(cfg(mode=0o644, contents={"source": "data:,hello%20world"}))


def test_data_urls_and_compression():
    assert ignition.decode_data_url("data:,hello%20world") == ("text/plain", b"hello world")
    assert ignition.decode_data_url("data:text/plain;charset=utf-8;base64,aGk=")[1] == b"hi"
    gz = base64.b64encode(gzip.compress(b"zipped")).decode()
    f = {"path": "/x", "contents": {"source": "data:;base64," + gz, "compression": "gzip"}}
    assert ignition.file_contents(f) == b"zipped"


def test_merge_compression_follows_contents():
    gz = base64.b64encode(gzip.compress(b"old")).decode()
    parent = {"ignition": {"version": "3.5.0"}, "storage": {"files": [
        {"path": "/x", "contents": {"source": "data:;base64," + gz, "compression": "gzip"}, "mode": 420}]}}
    child = {"ignition": {"version": "3.5.0"},
             "storage": {"files": [{"path": "/x", "contents": {"source": "data:,new"}}]}}
    merged = ignition.merge_all([parent, child])
    f = merged["storage"]["files"][0]
    assert ignition.file_contents(f) == b"new" and "compression" not in f["contents"] and f["mode"] == 420
    assert f["overwrite"] is True


def test_merge_keys_units_users_and_shared_paths():
    a = {"ignition": {"version": "3.5.0"},
         "systemd": {"units": [{"name": "a.service", "enabled": True,
                                "dropins": [{"name": "1.conf", "contents": "x"}]}]},
         "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["k1"]}]},
         "storage": {"directories": [{"path": "/p"}]}}
    b = {"ignition": {"version": "3.5.0"},
         "systemd": {"units": [{"name": "a.service", "mask": True, "dropins": [{"name": "2.conf", "contents": "y"}]}]},
         "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["k1", "k2"]}]},
         "storage": {"files": [{"path": "/p", "contents": {"source": "data:,f"}}]}}
    m = ignition.merge_all([a, b])
    unit = m["systemd"]["units"][0]
    assert unit["enabled"] is True and unit["mask"] is True
    assert [d["name"] for d in unit["dropins"]] == ["1.conf", "2.conf"]
    assert m["passwd"]["users"] == [{"name": "core", "sshAuthorizedKeys": ["k1", "k2"]}]
    assert "directories" not in m["storage"] and m["storage"]["files"][0]["path"] == "/p"


def test_generated_by_another_version_is_refused():
    old = machine_config("01-old", "worker")
    old["metadata"]["annotations"] = {GENERATED_BY: "abc"}
    assert fail(WORKER, [*BASE, old]) == PREFIX + (f"ignoring MC 01-old generated by older version abc "
                                                   f"(my version: {CONTROLLER_VERSION})")


def test_reconcile_check_against_current_config():
    current = render.render(WORKER, BASE, KNOBS, None).machine_config
    dirs = machine_config("60-dir", "worker")
    dirs["spec"]["config"]["storage"] = {"directories": [{"path": "/var/lib/x"}]}
    assert fail(WORKER, [*BASE, dirs], current=current) == PREFIX + (
        f'reconciliation failed between current config "{current["metadata"]["name"]}" and base config '
        '"60-dir": ignition directories section contains changes')
    user = machine_config("60-user", "worker")
    user["spec"]["config"]["passwd"] = {"users": [{"name": "bob"}]}
    assert "invalid passwd change(s): ignition passwd user section contains unsupported changes: non-core user" in fail(
        WORKER, [*BASE, user], current=current)
    fips = machine_config("60-fips", "worker")
    fips["spec"]["fips"] = True
    assert "detected change to FIPS flag; refusing to modify FIPS on a running cluster" in fail(
        WORKER, [*BASE, fips], current=current)
    # files, units, extensions are fine
    render.render(WORKER, [*BASE, kata_mc()], KNOBS, current)
    # without a current config (first render) directories are accepted
    render.render(WORKER, [*BASE, dirs], KNOBS, None)


def test_missing_labels_and_empty_selector():
    nolabel = machine_config("50-x", "worker")
    nolabel["metadata"]["labels"] = None
    with pytest.raises(render.RenderError, match="Cannot find label in MachineConfig 50-x"):
        render.merge_order([nolabel])
    nothing = {"metadata": {"name": "p"}, "spec": {"machineConfigSelector": None}}
    assert render.select_configs(nothing, BASE) == []
