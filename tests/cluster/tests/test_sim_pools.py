"""Custom pools and pool membership, as the MCO decides it."""

from __future__ import annotations

from kubernetes import client

from sim import testing as st
from sim.constants import CURRENT_CONFIG
from sim.kube import mcp_path

KATA_ROLE = "node-role.kubernetes.io/kata-oc"


def kata_mc() -> dict:
    return st.machine_config("50-enable-sandboxed-containers-extension", "kata-oc", extensions=["sandboxed-containers"],
                             files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()})


def counts(api, name: str) -> int:
    return st.machine_count(st.pool(api, name))["machine"]


def test_custom_pool_takes_the_labelled_workers(sim):
    st.kube(sim).create(mcp_path(), st.custom_pool("kata-oc"))
    p = st.wait_pool_converged(sim, "kata-oc")
    worker_cfg = st.pool(sim, "worker")["spec"]["configuration"]["name"]
    # no config of its own yet: the same merged spec as worker, under its own name
    assert p["spec"]["configuration"]["name"] == worker_cfg.replace("rendered-worker-", "rendered-kata-oc-")
    assert st.machine_count(p)["machine"] == 0
    # the MachineConfig first, then the labels: one reboot per node
    st.create_mc(sim, kata_mc())
    st.wait_pool_converged(sim, "kata-oc", contains=["50-enable-sandboxed-containers-extension"])
    for n in ("worker-0", "worker-1"):
        st.label_node(sim, n, {KATA_ROLE: ""})
    p = st.wait_for(lambda: (q := st.pool(sim, "kata-oc"))["status"].get("machineCount") == 2 and q,
                    what="kata-oc to count 2 machines")
    p = st.wait_pool_converged(sim, "kata-oc", contains=["50-enable-sandboxed-containers-extension"])
    w = st.wait_pool_converged(sim, "worker")
    assert st.machine_count(p) == {"machine": 2, "updated": 2, "ready": 2, "unavailable": 0, "degraded": 0}
    assert st.machine_count(w)["machine"] == 1
    assert sorted(n["metadata"]["name"] for n in st.nodes(sim, "kata-oc")) == ["worker-0", "worker-1"]
    assert [n["metadata"]["name"] for n in st.nodes(sim, "worker")] == ["worker-2"]
    for n in st.nodes(sim, "kata-oc"):
        assert n["metadata"]["annotations"][CURRENT_CONFIG] == p["spec"]["configuration"]["name"]
    assert st.reboots(sim) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 0}
    # the custom pool's configs come after the worker ones
    sources = [s["name"] for s in p["spec"]["configuration"]["source"]]
    assert sources[-1] == "50-enable-sandboxed-containers-extension" and "00-worker" in sources
    # unlabelling moves a node back to worker, with one more reboot
    st.label_node(sim, "worker-1", {KATA_ROLE: None})
    st.wait_for(lambda: st.pool_machines(sim, "worker") == 2, what="worker-1 back in worker")
    st.wait_pool_converged(sim, "worker")
    assert st.reboots(sim)["worker-1"] == 2


def test_labels_before_the_config_cost_a_second_reboot(sim):
    st.kube(sim).create(mcp_path(), st.custom_pool("kata-oc"))
    st.wait_pool_converged(sim, "kata-oc")
    st.label_node(sim, "worker-0", {KATA_ROLE: ""})
    st.wait_for(lambda: st.pool_machines(sim, "kata-oc") == 1, what="worker-0 in kata-oc")
    st.wait_pool_converged(sim, "kata-oc")
    # same content under another name: the node only moves currentConfig
    assert st.reboots(sim)["worker-0"] == 0
    st.create_mc(sim, kata_mc())
    st.wait_pool_converged(sim, "kata-oc", contains=["50-enable-sandboxed-containers-extension"])
    assert st.reboots(sim)["worker-0"] == 1


def test_a_node_in_two_custom_pools_is_in_none(sim):
    k = st.kube(sim)
    k.create(mcp_path(), st.custom_pool("kata-oc"))
    k.create(mcp_path(), st.custom_pool("infra"))
    st.label_node(sim, "worker-2", {KATA_ROLE: "", "node-role.kubernetes.io/infra": ""})
    st.wait_for(lambda: st.pool_machines(sim, "worker") == 2, what="worker-2 out of worker")
    assert counts(sim, "kata-oc") == 0 and counts(sim, "infra") == 0
    events = st.wait_for(lambda: [e for e in client.CoreV1Api(sim).list_namespaced_event(
        "default", field_selector="involvedObject.name=worker-2").items if e.reason == "MultipleCustomPools"],
        what="the membership error")
    assert events[0].message == "node worker-2 belongs to 2 custom roles, cannot proceed with this Node"
    assert events[0].type == "Warning"
    st.label_node(sim, "worker-2", {"node-role.kubernetes.io/infra": None})
    st.wait_for(lambda: st.pool_machines(sim, "kata-oc") == 1, what="worker-2 in kata-oc")


def test_master_wins_over_a_custom_pool(sim):
    st.kube(sim).create(mcp_path(), st.custom_pool("kata-oc"))
    st.wait_pool_converged(sim, "kata-oc")
    st.label_node(sim, "master-0", {KATA_ROLE: ""})
    st.create_mc(sim, kata_mc())
    st.wait_pool_converged(sim, "kata-oc", contains=["50-enable-sandboxed-containers-extension"])
    assert counts(sim, "master") == 3 and counts(sim, "kata-oc") == 0
    assert st.reboots(sim)["master-0"] == 0


def test_custom_pool_max_unavailable_percent(sim):
    st.reset(sim, workers=4, render_delay=1, node_update=0.5)
    st.kube(sim).create(mcp_path(), st.custom_pool("kata-oc", max_unavailable="50%"))
    st.wait_pool_converged(sim, "kata-oc")
    st.create_mc(sim, kata_mc())
    st.wait_pool_converged(sim, "kata-oc", contains=["50-enable-sandboxed-containers-extension"])
    with st.pool_samples(sim, "kata-oc") as s:
        for n in ("worker-0", "worker-1", "worker-2", "worker-3"):
            st.label_node(sim, n, {KATA_ROLE: ""})
        st.wait_for(lambda: st.pool_machines(sim, "kata-oc") == 4, what="4 nodes in kata-oc")
        st.wait_pool_converged(sim, "kata-oc", contains=["50-enable-sandboxed-containers-extension"])
    assert s.max_reported == 2
    assert {st.reboots(sim)[f"worker-{i}"] for i in range(4)} == {1}
