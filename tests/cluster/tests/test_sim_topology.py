"""The simulated cluster as it comes up: nodes, pools, topologies, new nodes, heartbeats."""

from __future__ import annotations

import time

from kubernetes import client

from sim import testing as st
from sim import topology
from sim.constants import (
    CONTROL_PLANE_TOPOLOGY,
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    NFD_KATA,
    NFD_VMX,
    REBOOTS,
    STATE,
    ZONE_LABEL,
)
from sim.kube import parse_time


def _conds(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def test_fresh_standard_cluster(sim):
    nodes = {n["metadata"]["name"]: n for n in st.nodes(sim)}
    assert sorted(nodes) == ["master-0", "master-1", "master-2", "worker-0", "worker-1", "worker-2"]
    zones = {n["metadata"]["labels"][ZONE_LABEL] for n in nodes.values()}
    assert zones == {"us-east-1a", "us-east-1b", "us-east-1c"}
    for name, n in nodes.items():
        labels, a = n["metadata"]["labels"], n["metadata"]["annotations"]
        assert labels["kubernetes.io/hostname"] == name and labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/arch"] == "amd64"
        assert labels[NFD_VMX] == "true" and labels[NFD_KATA] == "true"
        assert _conds(n)["Ready"]["status"] == "True"
        assert n["status"]["allocatable"]["cpu"] and n["status"]["allocatable"]["memory"]
        taints = {t["key"] for t in n["spec"].get("taints") or []}
        assert "node.kubernetes.io/not-ready" not in taints
        assert ("node-role.kubernetes.io/master" in taints) == name.startswith("master")
        assert a[STATE] == "Done" and a[CURRENT_CONFIG] == a[DESIRED_CONFIG] and a[REBOOTS] == "0"
        assert a[CONTROL_PLANE_TOPOLOGY] == "HighlyAvailable"
    for pool_name, prefix in (("master", "master-"), ("worker", "worker-")):
        p = st.pool(sim, pool_name)
        spec_cfg = p["spec"]["configuration"]
        assert spec_cfg["name"].startswith(f"rendered-{pool_name}-")
        assert [s["name"] for s in spec_cfg["source"]] == [
            mc["metadata"]["name"] for mc in topology.base_machine_configs(pool_name)]
        assert p["status"]["configuration"] == spec_cfg
        assert st.machine_count(p) == {"machine": 3, "updated": 3, "ready": 3, "unavailable": 0, "degraded": 0}
        assert p["status"]["observedGeneration"] == p["metadata"]["generation"]
        conds = _conds(p)
        assert {t: conds[t]["status"] for t in ("Updated", "Updating", "Degraded", "NodeDegraded", "RenderDegraded")} \
            == {"Updated": "True", "Updating": "False", "Degraded": "False", "NodeDegraded": "False",
                "RenderDegraded": "False"}
        assert conds["Updated"]["message"] == f"All nodes are updated with MachineConfig {spec_cfg['name']}"
        for n in nodes.values():
            if n["metadata"]["name"].startswith(prefix):
                assert n["metadata"]["annotations"][CURRENT_CONFIG] == spec_cfg["name"]
        rendered = st.kube(sim).get(f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{spec_cfg['name']}")
        owner = rendered["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "MachineConfigPool", pool_name, p["metadata"]["uid"], True)


def test_compact_topology(api):
    st.reset(api, topology="compact", **{"render_delay": 1, "node_update": 0.5})
    nodes = st.nodes(api)
    assert sorted(n["metadata"]["name"] for n in nodes) == ["master-0", "master-1", "master-2"]
    for n in nodes:
        labels = n["metadata"]["labels"]
        assert "node-role.kubernetes.io/master" in labels and "node-role.kubernetes.io/worker" in labels
        assert not any(t["key"] == "node-role.kubernetes.io/master" for t in n["spec"].get("taints") or [])
    worker = st.pool(api, "worker")
    assert st.machine_count(worker)["machine"] == 0
    assert _conds(worker)["Updated"]["status"] == "True"
    assert st.machine_count(st.pool(api, "master"))["machine"] == 3


def test_single_node_reboots_without_drain(api):
    st.reset(api, topology="sno", render_delay=1, node_update=0.5)
    (node,) = st.nodes(api)
    assert node["metadata"]["name"] == "master-0"
    assert node["metadata"]["annotations"][CONTROL_PLANE_TOPOLOGY] == "SingleReplica"
    assert st.machine_count(st.pool(api, "worker"))["machine"] == 0
    with st.pool_samples(api, "master") as s:
        st.create_mc(api, st.machine_config("50-kata", "master", extensions=["sandboxed-containers"]))
        st.wait_pool_converged(api, "master", contains=["50-kata"])
    assert st.reboots(api) == {"master-0": 1}
    assert max(x.cordoned for x in s.samples) == 0  # drain skipped on a single node
    assert s.max_unavailable == 1  # it did go NotReady while rebooting
    a = st.nodes(api)[0]["metadata"]["annotations"]
    assert not a.get("machineconfiguration.openshift.io/desiredDrain", "").startswith("drain-")


def test_nodes_without_virtualization(api):
    st.reset(api, not_virt=["worker-1"], render_delay=1, node_update=0.5)
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in st.nodes(api)}
    assert NFD_KATA not in labels["worker-1"] and NFD_VMX not in labels["worker-1"]
    assert labels["worker-1"]["feature.node.kubernetes.io/cpu-cpuid.HYPERVISOR"] == "true"
    assert all(labels[n][NFD_KATA] == "true" for n in labels if n != "worker-1")


def test_heartbeats_and_leases(sim):
    st.configure(sim, heartbeat=1)
    core = client.CoreV1Api(sim)
    before = {c.type: c.last_heartbeat_time for c in core.read_node("worker-0").status.conditions}
    time.sleep(2.5)
    after = {c.type: c.last_heartbeat_time for c in core.read_node("worker-0").status.conditions}
    assert after["Ready"] > before["Ready"]
    lease = client.CoordinationV1Api(sim).read_namespaced_lease("worker-0", "kube-node-lease")
    assert lease.spec.holder_identity == "worker-0"
    assert time.time() - lease.spec.renew_time.timestamp() < 3


def test_new_node_boots_with_the_pool_config(sim):
    st.create_mc(sim, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))
    p = st.wait_pool_converged(sim, "worker", contains=["50-x"])
    n = st.add_node(sim, "worker-7")
    a = n["metadata"]["annotations"]
    assert a[CURRENT_CONFIG] == a[DESIRED_CONFIG] == p["spec"]["configuration"]["name"]
    # The MCS of 4.14-4.21 writes no firstPivotConfig (pkg/server/server.go getNodeAnnotation; from 4.22 it does).
    assert "machineconfiguration.openshift.io/firstPivotConfig" not in a
    assert a[REBOOTS] == "0"
    # The node controller counts the new node at its next sync of the pool, as the MCO's does: on a loaded machine
    # that came after the pool already looked converged (a CI run saw 3 machines).
    st.wait_for(lambda: st.machine_count(st.pool(sim, "worker"))["machine"] == 4, 30, what="worker-7 counted")
    p = st.wait_pool_converged(sim, "worker", contains=["50-x"])
    assert st.machine_count(p)["machine"] == 4
    assert st.reboots(sim)["worker-7"] == 0


def test_new_node_in_a_paused_pool_gets_the_old_config(sim):
    old = st.pool(sim, "worker")["spec"]["configuration"]["name"]
    st.patch_pool_spec(sim, "worker", {"paused": True})
    st.create_mc(sim, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))
    p = st.wait_for(lambda: (q := st.pool(sim, "worker"))["spec"]["configuration"]["name"] != old and q,
                    what="the paused pool to render")
    # The Machine Config Server serves status.configuration until a node has updated.
    n = st.add_node(sim, "worker-7")
    assert n["metadata"]["annotations"][CURRENT_CONFIG] == old
    st.patch_pool_spec(sim, "worker", {"paused": False})
    p = st.wait_pool_converged(sim, "worker", contains=["50-x"])
    assert {n: c for n, c in st.reboots(sim).items() if n.startswith("worker")} == {
        "worker-0": 1, "worker-1": 1, "worker-2": 1, "worker-7": 1}
    assert p["status"]["configuration"]["name"] != old


def test_times_are_kept_on_the_node(sim):
    st.configure(sim, node_update=3)
    st.create_mc(sim, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))
    n = st.wait_for(lambda: next((x for x in st.nodes(sim, "worker")
                                  if "sim.sandboxed.containers/update-started" in x["metadata"]["annotations"]), None),
                    what="an update to start")
    a = n["metadata"]["annotations"]
    assert a["sim.sandboxed.containers/update-target"] == a[DESIRED_CONFIG]
    assert abs(parse_time(a["sim.sandboxed.containers/update-started"]) - time.time()) < 5
