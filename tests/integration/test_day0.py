"""Day 0 (issue 15): a cluster whose nodes join with the rendered manifests already in its first rendered config, as
after openshift-install with them in its openshift/ directory; status, the install after it, and drift."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

from sim import testing as st
from support import MC_NAME, handler_nodes, run_pods, snapshot

WORKERS = ["worker-0", "worker-1", "worker-2"]
NO_REBOOT = dict.fromkeys(["master-0", "master-1", "master-2", *WORKERS], 0)
FIRST_PIVOT = "machineconfiguration.openshift.io/firstPivotConfig"
CURRENT = "machineconfiguration.openshift.io/currentConfig"


def render(ansible, directory: Path, **extra) -> list[dict]:
    r = ansible.run("render", report=False, extra_vars={"sandboxed_containers_render_dir": str(directory), **extra})
    assert r.rc == 0, r
    return [d for f in sorted(directory.iterdir()) for d in yaml.safe_load_all(f.read_text()) if d]


def day0_cluster(api, ansible, tmp_path: Path) -> Path:
    """The manifests rendered for openshift-install, created before the nodes; returns their directory."""
    out = tmp_path / "openshift"
    manifests = render(ansible, out)
    st.reset(api, topology="standard", workers=3, manifests=manifests, render_delay=1, node_update=0.4)
    return out


def test_a_cluster_started_with_the_rendered_manifests_is_installed_with_no_reboot(
        cluster, ansible, fresh, tmp_path):
    api = fresh
    out = day0_cluster(api, ansible, tmp_path)
    assert st.reboots(api) == NO_REBOOT
    pool = st.pool(api, "worker")
    assert MC_NAME in {s["name"] for s in pool["status"]["configuration"]["source"]}
    for node in st.nodes(api, "worker"):
        a = node["metadata"]["annotations"]
        # Booted into the first rendered config, with the MachineConfig; 4.14-4.21 write no firstPivotConfig.
        assert a[CURRENT] == pool["status"]["configuration"]["name"] and FIRST_PIVOT not in a, node["metadata"]
    # Status: every chosen worker installed, at day 0, and no drift from the directory. Not yet ready for
    # sandboxed pods: the handler label the RuntimeClass schedules onto comes from the install.
    s = ansible.run("status", extra_vars={"sandboxed_containers_render_dir": str(out),
                                          "sandboxed_containers_status_fail_on_drift": True})
    assert s.rc == 0, s
    assert "3 nodes installed, 0 installing, 0 waiting, 0 failed" in s.text
    assert "Installed at day 0 (version" in s.text
    assert s.report["day0"]["installed_at_day0"] is True and s.report["day0"]["nodes"] == WORKERS
    assert s.report["drift"] == []
    assert s.report["installed"] is False and handler_nodes(api) == []
    assert {n["name"]: n["readiness"] for n in s.report["nodes"] if n["name"] in WORKERS} != \
        dict.fromkeys(WORKERS, "ready")
    # The install after it: no reboot, nothing changed but the handler labels day 0 cannot carry.
    before = snapshot(api)
    r = ansible.run("install")
    assert r.rc == 0, r
    assert "No node reboots." in r.text
    assert st.reboots(api) == NO_REBOOT
    after = snapshot(api)
    # The install's server-side apply takes a share of the objects the manifests created (managedFields, hence a
    # new resourceVersion); their content is unchanged.
    for snap in (before, after):
        for rc in snap["runtimeclasses"].values():
            for key in ("managedFields", "resourceVersion"):
                rc["metadata"].pop(key, None)
    assert {k: v for k, v in after.items() if k != "nodes"} == {k: v for k, v in before.items() if k != "nodes"}
    for name, (meta, unschedulable) in after["nodes"].items():
        was = before["nodes"][name][0]
        added = {k: v for k, v in meta["labels"].items() if was["labels"].get(k) != v}
        assert added == ({"sandboxed.containers/handler": "kata"} if name in WORKERS else {}), name
        assert not unschedulable
    assert handler_nodes(api) == WORKERS
    again = ansible.run("install")
    assert again.rc == 0 and again.changed == 0, again
    # The pipeline's gate: complete, and no drift.
    gate = ansible.run("status", extra_vars={"sandboxed_containers_status_fail_when_not_installed": True,
                                             "sandboxed_containers_render_dir": str(out),
                                             "sandboxed_containers_status_fail_on_drift": True})
    assert gate.rc == 0, gate
    assert gate.report["day0"]["installed_at_day0"] is True
    # A sandboxed pod runs: the simulated kubelet admits it on a node with the handler.
    [pod] = run_pods(api, "kata", 1)
    assert pod.spec.node_name in WORKERS


def test_a_field_changed_by_hand_is_named_by_status_against_the_rendered_directory(
        cluster, ansible, fresh, tmp_path):
    api = fresh
    out = day0_cluster(api, ansible, tmp_path)
    client.NodeV1Api(api).patch_runtime_class("kata", {"overhead": {"podFixed": {"memory": "500Mi"}}})
    s = ansible.run("status", extra_vars={"sandboxed_containers_render_dir": str(out)})
    assert s.rc == 0, s
    assert "overhead.podFixed.memory" in s.text and "500Mi" in s.text and "350Mi" in s.text
    [finding] = s.report["drift"]
    assert finding["kind"] == "RuntimeClass" and finding["state"] == "changed"
    assert finding["fields"] == [{"path": "overhead.podFixed.memory", "rendered": "350Mi", "cluster": "500Mi"}]
    gate = ansible.run("status", extra_vars={"sandboxed_containers_render_dir": str(out),
                                             "sandboxed_containers_status_fail_on_drift": True})
    assert gate.rc != 0, gate
    assert "overhead.podFixed.memory" in gate.text
