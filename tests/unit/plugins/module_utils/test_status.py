"""Per-node states and counts of status_info (_status): what `playbooks/status.yml` reports for every node.

The pools and nodes are written out here as the MCO shows them, with the annotation and label keys spelled out
(not taken from the collection), and the expected states come from the documented meaning of each state.
"""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._status import (
    STATES,
    counts,
    node_states,
    pods_using,
    pool_summary,
    sources,
    version_of,
)

MC = "50-sandboxed-containers"
OLD, NEW = "rendered-worker-old", "rendered-worker-new"
KATA_OLD, KATA_NEW = "rendered-kata-oc-old", "rendered-kata-oc-new"
STATE = "machineconfiguration.openshift.io/state"
HANDLER = "sandboxed.containers/handler"
MASTER_SOURCES = ("00-master",)


def node(name: str, *roles: str, state: str = "Done", current: str = "rendered-worker-1",
         desired: str | None = None, reason: str = "", **labels: str) -> dict:
    """A node as the MCD annotates it, with a node-role label per role."""
    ann = {"machineconfiguration.openshift.io/currentConfig": current,
           "machineconfiguration.openshift.io/desiredConfig": desired or current,
           STATE: state}
    if reason:
        ann["machineconfiguration.openshift.io/reason"] = reason
    return {"metadata": {"name": name, "annotations": ann, "labels": {
        "kubernetes.io/hostname": name, **{f"node-role.kubernetes.io/{r}": "" for r in roles}, **labels}}}


def pool(name: str, *, role_selector: dict | None = None, target: str | None = None, sources: tuple[str, ...] = (),
         status_config: str | None = None, machines: tuple[int, int, int, int] = (0, 0, 0, 0),
         conds: dict[str, str] | None = None, paused: bool = False) -> dict:
    """A MachineConfigPool as the MCO reports it: spec.configuration is the render it targets."""
    spec: dict = {
        "machineConfigSelector": role_selector or {"matchLabels": {"machineconfiguration.openshift.io/role": name}},
        "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}},
        "paused": paused,
    }
    if target:
        spec["configuration"] = {"name": target, "source": [
            {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig", "name": s}
            for s in sources]}
    machine, updated, ready, degraded = machines
    return {"metadata": {"name": name, "generation": 2}, "spec": spec, "status": {
        "observedGeneration": 2, "configuration": {"name": status_config or target},
        "machineCount": machine, "updatedMachineCount": updated, "readyMachineCount": ready,
        "degradedMachineCount": degraded, "unavailableMachineCount": 0,
        "conditions": [{"type": k, "status": v, "reason": "", "message": ""} for k, v in (conds or {
            "Updated": "True", "Updating": "False", "Degraded": "False", "NodeDegraded": "False",
            "RenderDegraded": "False"}).items()]}}


MASTER = pool("master", target="rendered-master-1", sources=MASTER_SOURCES, machines=(3, 3, 3, 0))


def worker_pool(target: str = NEW, with_mc: bool = True, **kw) -> dict:
    return pool("worker", target=target, sources=("00-worker", "01-worker-kubelet") + ((MC,) if with_mc else ()),
                **{"machines": (3, 3, 3, 0), **kw})


def kata_pool(target: str = KATA_NEW, with_mc: bool = True) -> dict:
    return pool("kata-oc", role_selector={"matchExpressions": [
        {"key": "machineconfiguration.openshift.io/role", "operator": "In", "values": ["worker", "kata-oc"]}]},
        target=target, sources=("00-worker",) + ((MC,) if with_mc else ()), machines=(1, 1, 1, 0))


def states(nodes: list[dict], pools: list[dict]) -> dict[str, str]:
    return {e["name"]: e["state"] for e in node_states(nodes, pools, MC)}


def test_every_node_at_the_target_of_a_pool_with_our_machine_config_is_installed():
    nodes = [node(f"worker-{i}", "worker", current=NEW) for i in range(3)]
    nodes.append(node("master-0", "master", current="rendered-master-1"))
    out = node_states(nodes, [MASTER, worker_pool()], MC)
    assert [e["name"] for e in out] == ["master-0", "worker-0", "worker-1", "worker-2"]  # sorted by name
    assert {e["name"]: e["state"] for e in out} == {
        "master-0": "not installed", "worker-0": "installed", "worker-1": "installed", "worker-2": "installed"}
    w0 = out[1]
    assert (w0["pool"], w0["mcd_state"], w0["current_config"], w0["desired_config"], w0["target_config"],
            w0["reason"]) == ("worker", "Done", NEW, NEW, NEW, "")


def test_the_stale_updated_window_reports_nothing_installed():
    # Right after our MachineConfig is written, the pool still targets the old rendered config, whose sources do
    # not list it, with Updated=True and every node Done on it: nothing is installed yet.
    p = worker_pool(target=OLD, with_mc=False)
    assert states([node(f"worker-{i}", "worker", current=OLD) for i in range(3)], [p]) == dict.fromkeys(
        ("worker-0", "worker-1", "worker-2"), "not installed")


def test_during_the_rollout_nodes_are_installed_installing_or_waiting():
    nodes = [node("worker-0", "worker", current=NEW),
             node("worker-1", "worker", current=OLD, desired=NEW, state="Working"),
             node("worker-2", "worker", current=OLD)]  # its turn has not come: Done, on the old config
    got = node_states(nodes, [worker_pool(status_config=OLD)], MC)
    assert {e["name"]: e["state"] for e in got} == {
        "worker-0": "installed", "worker-1": "installing", "worker-2": "waiting"}
    assert (got[1]["current_config"], got[1]["desired_config"], got[1]["target_config"]) == (OLD, NEW, NEW)
    assert counts(got) == {"installed": 1, "installing": 1, "waiting": 1, "failed": 0, "not installed": 0}


def test_a_node_done_on_the_target_but_whose_pool_lost_our_machine_config_is_not_installed():
    # After an uninstall's MachineConfig deletion the pool renders without it: the nodes' configs no longer count.
    assert states([node("worker-0", "worker", current=NEW)], [worker_pool(with_mc=False)]) == {
        "worker-0": "not installed"}


def test_degraded_and_unreconcilable_nodes_are_failed_with_the_mco_reason():
    nodes = [node("worker-0", "worker", current=OLD, desired=NEW, state="Degraded",
                  reason="error running rpm-ostree update: exit status 1"),
             node("worker-1", "worker", current=OLD, desired=NEW, state="Unreconcilable",
                  reason="ignition directories section contains changes"),
             node("worker-2", "worker", current=NEW)]
    got = {e["name"]: e for e in node_states(nodes, [worker_pool()], MC)}
    assert {n: e["state"] for n, e in got.items()} == {
        "worker-0": "failed", "worker-1": "failed", "worker-2": "installed"}
    assert got["worker-0"]["reason"] == "error running rpm-ostree update: exit status 1"
    assert got["worker-1"]["reason"] == "ignition directories section contains changes"


def test_a_degraded_node_is_failed_even_before_its_pool_lists_our_machine_config():
    # A node that cannot take any update is a failure of the install to come, not a node "not installed".
    nodes = [node("worker-0", "worker", current=OLD, state="Degraded", reason="unexpected on-disk state"),
             node("worker-1", "worker", current=OLD)]
    assert states(nodes, [worker_pool(target=OLD, with_mc=False)]) == {
        "worker-0": "failed", "worker-1": "not installed"}


def test_nodes_of_the_custom_pool_are_judged_by_its_target_and_the_others_by_theirs():
    nodes = [node("worker-0", "worker", "kata-oc", current=KATA_NEW),
             node("worker-1", "worker", current=OLD)]
    pools = [MASTER, worker_pool(target=OLD, with_mc=False), kata_pool()]
    got = {e["name"]: e for e in node_states(nodes, pools, MC)}
    assert (got["worker-0"]["pool"], got["worker-0"]["state"], got["worker-0"]["target_config"]) == (
        "kata-oc", "installed", KATA_NEW)
    assert (got["worker-1"]["pool"], got["worker-1"]["state"]) == ("worker", "not installed")


def test_a_node_labelled_into_the_custom_pool_but_still_on_the_worker_config_is_waiting():
    # Labelled a moment ago: the node controller has not set its desiredConfig yet.
    nodes = [node("worker-0", "worker", "kata-oc", current=NEW)]
    assert states(nodes, [worker_pool(), kata_pool()]) == {"worker-0": "waiting"}


def test_a_node_in_two_custom_pools_is_in_none_and_says_why():
    other = pool("other", target="rendered-other-1", sources=("00-worker",))
    nodes = [node("worker-0", "worker", "kata-oc", "other", current=NEW)]
    (e,) = node_states(nodes, [worker_pool(), kata_pool(), other], MC)
    assert (e["pool"], e["target_config"], e["state"]) == (None, None, "not installed")
    assert e["reason"] == "node worker-0 belongs to 2 custom roles, cannot proceed with this Node"


def test_a_node_in_no_pool_is_not_installed():
    (e,) = node_states([node("infra-0", "infra", current="rendered-infra-1")], [MASTER, worker_pool()], MC)
    assert (e["pool"], e["target_config"], e["state"]) == (None, None, "not installed")


def test_the_handler_label_is_reported_as_it_is_on_the_node():
    nodes = [node("worker-0", "worker", current=NEW, **{HANDLER: "kata"}), node("worker-1", "worker", current=NEW)]
    got = {e["name"]: e["handler_label"] for e in node_states(nodes, [worker_pool()], MC)}
    assert got == {"worker-0": "kata", "worker-1": None}


def test_a_node_without_mcd_annotations_is_waiting_in_a_pool_with_our_machine_config():
    bare = {"metadata": {"name": "worker-3", "labels": {"node-role.kubernetes.io/worker": ""}}}
    (e,) = node_states([bare], [worker_pool()], MC)
    assert (e["mcd_state"], e["current_config"], e["state"]) == (None, None, "waiting")


def test_counts_name_every_state_and_add_up_to_the_nodes():
    nodes = [node("worker-0", "worker", current=NEW),
             node("worker-1", "worker", current=NEW),
             node("worker-2", "worker", current=OLD, desired=NEW, state="Working"),
             node("worker-3", "worker", current=OLD, desired=NEW, state="Degraded", reason="boom"),
             node("worker-4", "worker", current=OLD),
             node("master-0", "master", current="rendered-master-1")]
    c = counts(node_states(nodes, [MASTER, worker_pool()], MC))
    assert c == {"installed": 2, "installing": 1, "waiting": 1, "failed": 1, "not installed": 1}
    assert tuple(c) == STATES
    assert sum(c.values()) == len(nodes)
    assert counts([]) == dict.fromkeys(STATES, 0)


def test_pool_summary_keeps_spec_and_status_apart():
    p = worker_pool(status_config=OLD, machines=(3, 1, 2, 1), paused=True, conds={
        "Updated": "False", "Updating": "True", "Degraded": "True", "NodeDegraded": "True"})
    assert pool_summary(p) == {
        "name": "worker", "rendered_config": NEW, "status_config": OLD,
        "machine_count": 3, "updated_machine_count": 1, "ready_machine_count": 2, "degraded_machine_count": 1,
        "conditions": {"Updated": "False", "Updating": "True", "Degraded": "True", "NodeDegraded": "True"},
        "paused": True, "paused_by_collection": False,
    }


def test_pool_summary_of_a_pool_the_mco_has_not_synced():
    s = pool_summary({"metadata": {"name": "kata-oc"}, "spec": {}})
    assert s == {"name": "kata-oc", "rendered_config": None, "status_config": None, "machine_count": None,
                 "updated_machine_count": None, "ready_machine_count": None, "degraded_machine_count": None,
                 "conditions": {}, "paused": False, "paused_by_collection": False}


def test_sources_and_version():
    assert sources(worker_pool()) == ["00-worker", "01-worker-kubelet", MC]
    assert sources({"metadata": {"name": "new"}}) == []
    assert version_of({"metadata": {"annotations": {"sandboxed.containers/version": "0.9.0"}}}) == "0.9.0"
    assert version_of({"metadata": {"name": "x"}}) is None
    assert version_of(None) is None


def pod(name: str, runtime_class: str | None, phase: str | None) -> dict:
    p = {"metadata": {"namespace": "team", "name": name}, "spec": {"containers": [{"name": "c"}]}, "status": {}}
    if runtime_class:
        p["spec"]["runtimeClassName"] = runtime_class
    if phase:
        p["status"]["phase"] = phase
    return p


def test_pods_that_may_still_run_block_and_finished_ones_do_not():
    pods = [pod("running", "kata", "Running"), pod("pending", "kata", "Pending"), pod("unknown", "kata", "Unknown"),
            pod("new", "kata", None),  # no phase yet: Pending
            pod("done", "kata", "Succeeded"), pod("crashed", "kata", "Failed"),
            pod("plain", None, "Running"), pod("renamed", "kata-old", "Running")]
    assert [p["metadata"]["name"] for p in pods_using(pods, "kata", active=True)] == [
        "running", "pending", "unknown", "new"]
    assert [p["metadata"]["name"] for p in pods_using(pods, "kata")] == [
        "running", "pending", "unknown", "new", "done", "crashed"]
    assert [p["metadata"]["name"] for p in pods_using(pods, ["kata", "kata-old"], active=True)] == [
        "running", "pending", "unknown", "new", "renamed"]


# -- readiness: node by node, whether sandboxed pods can run there ---------------------------------------------------

def readiness_of(nodes: list[dict], pools: list[dict]) -> dict[str, tuple[str, str]]:
    return {e["name"]: (e["readiness"], e["readiness_reason"]) for e in node_states(nodes, pools, MC, "kata")}


def test_readiness_of_each_node_during_a_rollout():
    labelled = node("worker-0", "worker", current=NEW, **{HANDLER: "kata"})
    labelled["metadata"]["annotations"]["sandboxed.containers/ready-since"] = "2026-11-28T09:00:00Z"
    nodes = [labelled,
             node("worker-1", "worker", state="Working", current=OLD, desired=NEW),
             node("worker-2", "worker", current=OLD),
             node("worker-3", "worker", state="Degraded", current=OLD, desired=NEW, reason="disk full"),
             node("worker-4", "worker", current=NEW),
             node("master-0", "master", current="rendered-master-1")]
    got = readiness_of(nodes, [MASTER, worker_pool(status_config=OLD)])
    assert got == {
        "worker-0": ("ready", ""),
        "worker-1": ("updating", ""),
        "worker-2": ("waiting", "its turn in the rollout"),
        "worker-3": ("degraded", "disk full"),
        "worker-4": ("waiting", "updated, not labelled yet: the install labels it (run it again if it ended)"),
        "master-0": ("not chosen", ""),
    }
    since = {e["name"]: e["ready_since"] for e in node_states(nodes, [MASTER, worker_pool()], MC, "kata")}
    assert since["worker-0"] == "2026-11-28T09:00:00Z" and since["worker-1"] is None


def test_a_node_of_a_paused_pool_is_blocked_saying_why():
    got = readiness_of([node("worker-0", "worker", current=OLD)], [worker_pool(paused=True, status_config=OLD)])
    assert got == {"worker-0": ("blocked", "staged, pool paused: pool worker is paused by someone else; the MCO "
                                "updates none of its nodes until it resumes")}


def test_a_label_with_another_handler_is_not_ready():
    got = readiness_of([node("worker-0", "worker", current=NEW, **{HANDLER: "kata-qemu"})], [worker_pool()])
    assert got["worker-0"][0] == "waiting"
