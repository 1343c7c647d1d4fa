"""Render failures, node failures and hangs, with the MCO's conditions and messages."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from sim import testing as st
from sim.constants import CURRENT_CONFIG, DESIRED_CONFIG, REASON, STATE
from sim.kube import ApiError, mc_path, parse_time


def conds(p: dict) -> dict[str, dict]:
    return {c["type"]: c for c in p["status"]["conditions"]}


def kata_mc(name: str = "50-kata", **kw) -> dict:
    return st.machine_config(name, "worker", extensions=["sandboxed-containers"],
                             files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()}, **kw)


def test_invalid_extension_degrades_the_render_and_leaves_nodes_alone(sim):
    before = st.pool(sim, "worker")
    st.create_mc(sim, st.machine_config("50-kata", "worker", extensions=["kata-containers"]))
    c = st.wait_condition(sim, "worker", "RenderDegraded", "True")
    assert c["reason"] == ""
    assert c["message"] == ("Failed to render configuration for pool worker: could not generate rendered "
                            "MachineConfig: invalid extensions found: [kata-containers]")
    p = st.wait_for(lambda: (q := st.pool(sim, "worker")) and conds(q)["Degraded"]["status"] == "True" and q,
                    what="Degraded")
    assert conds(p)["Degraded"]["message"] == "" and conds(p)["NodeDegraded"]["status"] == "False"
    # the pitfall: Updated stays True for the old config, the generation never moves
    assert conds(p)["Updated"]["status"] == "True"
    assert p["spec"]["configuration"] == before["spec"]["configuration"]
    assert p["metadata"]["generation"] == before["metadata"]["generation"]
    with pytest.raises(st.PoolDegraded, match="invalid extensions found"):
        st.wait_pool_converged(sim, "worker", contains=["50-kata"], timeout=5)
    time.sleep(1.5)
    assert sum(st.reboots(sim).values()) == 0
    assert all(n["metadata"]["annotations"][DESIRED_CONFIG] == before["spec"]["configuration"]["name"]
               for n in st.nodes(sim, "worker"))
    # fixed: the render recovers and the rollout happens
    st.delete_mc(sim, "50-kata")
    st.create_mc(sim, kata_mc())
    st.wait_condition(sim, "worker", "RenderDegraded", "False")  # stays True for the render delay
    # Degraded follows at the pool status controller's next sync, as in the MCO (a separate controller).
    st.wait_condition(sim, "worker", "Degraded", "False")
    p = st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert conds(p)["RenderDegraded"]["status"] == "False" and conds(p)["Degraded"]["status"] == "False"


def test_invalid_ignition_is_reported_with_its_location(sim):
    st.create_mc(sim, st.machine_config("50-rel", "worker", files={"etc/relative": "x"}))
    c = st.wait_condition(sim, "worker", "RenderDegraded", "True")
    assert c["message"].startswith(
        "Failed to render configuration for pool worker: could not generate rendered MachineConfig: parsing "
        "Ignition config spec v3 failed with error: config is not valid\nReport: error at $.storage.files.0.path, "
        "line 1 col ")
    assert c["message"].endswith(": path not absolute\n")
    st.delete_mc(sim, "50-rel")
    st.create_mc(sim, st.machine_config("50-ver", "worker", ignition_version="4.0.0"))
    st.wait_for(lambda: "unknown version" in conds(st.pool(sim, "worker"))["RenderDegraded"]["message"],
                what="the version error")


def test_no_machine_configs_for_a_pool(sim):
    pool = st.custom_pool("empty")
    pool["spec"]["machineConfigSelector"] = {"matchExpressions": [
        {"key": "machineconfiguration.openshift.io/role", "operator": "In", "values": ["worker", "empty"]}]}
    pool["spec"]["machineConfigSelector"]["matchLabels"] = {"sim-test/nothing": "here"}
    try:
        st.kube(sim).create("/apis/machineconfiguration.openshift.io/v1/machineconfigpools", pool)
    except ApiError as e:  # the MCO's admission policy wants the worker role
        pytest.fail(str(e))
    c = st.wait_condition(sim, "empty", "RenderDegraded", "True")
    assert c["message"] == ("Failed to render configuration for pool empty: no MachineConfigs found matching selector "
                            "machineconfiguration.openshift.io/role in (empty,worker),sim-test/nothing=here")
    # never rendered: no status from the node controller, no spec.configuration
    p = st.pool(sim, "empty")
    assert "configuration" not in p["spec"] and "machineCount" not in p["status"]


def test_node_fault_degrades_the_pool_until_removed(sim):
    st.configure(sim, node_update=1)
    # Hold worker-0 (first in zone order) after its drain, then make its update fail there.
    st.hang(sim, "worker-0", "apply")
    st.create_mc(sim, kata_mc())
    st.wait_for(lambda: next((x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-0"
                              and x["spec"].get("unschedulable")), None), what="worker-0 drained")
    st.set_fault(sim, "worker-0", "error running rpm-ostree update: exit status 1")
    st.unhang(sim, "worker-0")
    c = st.wait_condition(sim, "worker", "NodeDegraded", "True", timeout=30)
    assert c["reason"] == "1 nodes are reporting degraded status on sync"
    assert c["message"] == 'Node worker-0 is reporting: "error running rpm-ostree update: exit status 1"'
    p = st.pool(sim, "worker")
    assert conds(p)["Degraded"]["status"] == "True" and conds(p)["Degraded"]["message"] == c["message"]
    assert p["status"]["degradedMachineCount"] == 1
    n = next(x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-0")
    assert n["metadata"]["annotations"][STATE] == "Degraded"
    assert n["metadata"]["annotations"][REASON] == "error running rpm-ostree update: exit status 1"
    with pytest.raises(st.PoolDegraded, match="Node worker-0 is reporting"):
        st.wait_pool_converged(sim, "worker", contains=["50-kata"], timeout=5)
    # it stays so, and holds the rollout (a failing node counts against maxUnavailable)
    time.sleep(2)
    p = st.pool(sim, "worker")
    assert p["status"]["degradedMachineCount"] == 1 and p["status"]["updatedMachineCount"] == 0
    assert sum(st.reboots(sim).values()) == 0
    st.clear_fault(sim, "worker-0")
    # the node retries, and stays Degraded until the update is done (the MCD never sets Working then)
    time.sleep(0.2)
    n = next(x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-0")
    assert n["metadata"]["annotations"][STATE] == "Degraded"
    p = st.wait_pool_converged(sim, "worker", contains=["50-kata"], allow_degraded=True)
    assert conds(p)["NodeDegraded"]["status"] == "False"
    assert {n: r for n, r in st.reboots(sim).items() if n.startswith("worker")} == {
        "worker-0": 1, "worker-1": 1, "worker-2": 1}


def test_an_idle_degraded_node_holds_the_rollout(sim):
    st.set_fault(sim, "worker-2", "unexpected on-disk state")
    st.wait_condition(sim, "worker", "NodeDegraded", "True")
    st.create_mc(sim, kata_mc())
    time.sleep(2.5)
    # Degraded but not failing this config: it is "unavailable", and maxUnavailable is 1
    p = st.pool(sim, "worker")
    assert p["status"]["unavailableMachineCount"] == 1 and sum(st.reboots(sim).values()) == 0
    st.clear_fault(sim, "worker-2")
    st.wait_pool_converged(sim, "worker", contains=["50-kata"], allow_degraded=True)
    assert sum(st.reboots(sim).values()) == 3


def test_fault_on_an_idle_node(sim):
    st.set_fault(sim, "worker-2", "unexpected on-disk state validating against rendered-worker: content mismatch")
    c = st.wait_condition(sim, "worker", "NodeDegraded", "True")
    assert "worker-2" in c["message"]
    st.clear_fault(sim, "worker-2")
    st.wait_condition(sim, "worker", "NodeDegraded", "False")
    n = next(x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-2")
    assert n["metadata"]["annotations"][STATE] == "Done" and n["metadata"]["annotations"][REASON] == ""


def test_hang_keeps_a_node_working(sim):
    st.hang(sim, "worker-0", "apply")
    st.create_mc(sim, kata_mc())
    n = st.wait_for(lambda: next((x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-0"
                                  and x["metadata"]["annotations"].get(STATE) == "Working"), None),
                    what="worker-0 Working")
    time.sleep(2.5)
    n = next(x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-0")
    assert n["metadata"]["annotations"][STATE] == "Working" and n["spec"].get("unschedulable") is True
    p = st.pool(sim, "worker")
    assert conds(p)["Updating"]["status"] == "True" and p["status"]["updatedMachineCount"] == 0
    assert p["status"]["unavailableMachineCount"] == 1 and sum(st.reboots(sim).values()) == 0
    st.unhang(sim, "worker-0")
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert sum(st.reboots(sim).values()) == 3


def test_hang_while_rebooting(sim):
    st.hang(sim, "worker-0", "reboot")
    st.create_mc(sim, kata_mc())
    st.wait_for(lambda: next((x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-0" and x["metadata"][
        "annotations"].get("machineconfiguration.openshift.io/post-config-action") == "Rebooting"), None),
        what="worker-0 rebooting")
    time.sleep(1.5)
    n = next(x for x in st.nodes(sim) if x["metadata"]["name"] == "worker-0")
    ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown"
    assert any(t["key"] == "node.kubernetes.io/unreachable" for t in n["spec"].get("taints") or [])
    st.unhang(sim, "worker-0")
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert st.reboots(sim)["worker-0"] == 1


def _lease_renewed(api, node: str) -> float:
    lease = st.kube(api).get(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}")
    return parse_time(lease["spec"]["renewTime"]) or 0.0


def _assert_stuck_not_ready(api, node: str, old_config: str, seconds: float = 10.0) -> None:
    """CRI-O exits after the reboot, so the kubelet cannot start: the node stays NotReady, nothing reports,
    the pool waits with one unavailable machine and never turns Degraded."""
    st.wait_for(lambda: st.reboots(api)[node] == 1, timeout=30, what=f"{node} rebooted")
    renewed = _lease_renewed(api, node)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        p = st.pool(api, "worker")
        assert not st.is_degraded(p), p["status"]["conditions"]
        time.sleep(0.5)
    n = next(x for x in st.nodes(api) if x["metadata"]["name"] == node)
    a = n["metadata"]["annotations"]
    ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["message"]) == ("Unknown", "Kubelet stopped posting node status.")
    assert {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"} in n["spec"]["taints"]
    assert a[STATE] == "Working" and a[CURRENT_CONFIG] == old_config and a.get(REASON, "") == ""
    assert a["machineconfiguration.openshift.io/post-config-action"] == "Rebooting"  # the MCD never ran again
    assert n["spec"].get("unschedulable") is True
    assert _lease_renewed(api, node) == renewed
    p = st.pool(api, "worker")
    assert st.machine_count(p)["unavailable"] == 1 and st.machine_count(p)["degraded"] == 0
    assert conds(p)["Updating"]["status"] == "True"
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0, "worker-0": 1, "worker-1": 0,
                               "worker-2": 0}


def test_invalid_crio_dropin_leaves_the_node_not_ready(sim):
    # Was: the daemon went Degraded before the reboot. The MCD does not read CRI-O's configuration: it applies
    # it and reboots; CRI-O then exits and the kubelet with it (crio-kubelet research A5, B2).
    st.configure(sim, heartbeat=1, node_update=1)
    old = st.pool(sim, "worker")["spec"]["configuration"]["name"]
    st.create_mc(sim, st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"], files={
        "/etc/crio/crio.conf.d/50-kata": "[crio.runtime.runtimes.kata]\nruntime_pull_image = \"yes\"\n"}))
    _assert_stuck_not_ready(sim, "worker-0", old)


def test_crio_fault_after_the_reboot(sim, sim_namespace):
    st.configure(sim, heartbeat=1, node_update=1)
    old = st.pool(sim, "worker")["spec"]["configuration"]["name"]
    st.crio_fails(sim, "worker-0", "failed to mount container storage")
    st.create_mc(sim, kata_mc())
    _assert_stuck_not_ready(sim, "worker-0", old, seconds=5)
    # nothing starts there
    core = client.CoreV1Api(sim)
    core.create_namespaced_pod(sim_namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "nodeName": "worker-0", "containers": [{"name": "c", "image": "registry.invalid/ubi9/ubi-minimal:latest"}]}})
    time.sleep(1.5)
    assert core.read_namespaced_pod("p", sim_namespace).status.phase in (None, "Pending")
    # systemd restarts CRI-O once the cause is gone: the boot completes and the rollout goes on
    st.crio_recovers(sim, "worker-0")
    st.wait_pool_converged(sim, "worker", contains=["50-kata"], timeout=60)
    assert st.reboots(sim)["worker-0"] == 1


def test_daemon_catches_what_the_render_let_through(sim):
    # MCO 4.15 and older check extensions only in the daemon, after the drain
    st.configure(sim, extension_validation="daemon")
    st.create_mc(sim, st.machine_config("50-kata", "worker", extensions=["foo"]))
    c = st.wait_condition(sim, "worker", "NodeDegraded", "True", timeout=30)
    assert c["message"] == 'Node worker-0 is reporting: "invalid extensions found: [foo]"'
    p = st.pool(sim, "worker")
    assert conds(p)["RenderDegraded"]["status"] == "False"


def test_supported_extensions_are_a_knob(sim):
    st.configure(sim, supported_extensions=["usbguard"])
    st.create_mc(sim, kata_mc())
    c = st.wait_condition(sim, "worker", "RenderDegraded", "True")
    assert c["message"].endswith("invalid extensions found: [sandboxed-containers]")
    st.configure(sim, supported_extensions=["usbguard", "sandboxed-containers"])
    # The pool stays degraded until the next render; only then can it converge.
    st.wait_condition(sim, "worker", "RenderDegraded", "False")
    st.wait_condition(sim, "worker", "Degraded", "False")  # at the pool status controller's next sync
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert st.kube(sim).get(mc_path("50-kata"))
