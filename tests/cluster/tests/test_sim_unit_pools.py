"""Node controller logic (sim.pools) without a cluster."""

from __future__ import annotations

import re

import pytest

from sim import pools as P
from sim.constants import CURRENT_CONFIG, DESIRED_CONFIG, REASON, STATE
from sim.topology import build_node

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"


def pool(name: str, node_label: str | None = None, target: str = "rendered-x", **spec) -> dict:
    label = node_label or f"node-role.kubernetes.io/{name}"
    return {"metadata": {"name": name, "generation": 2},
            "spec": {"nodeSelector": {"matchLabels": {label: ""}},
                     "machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": name}},
                     "configuration": {"name": target, "source": [{"name": "00-" + name}]}, **spec}}


MASTER, WORKER, INFRA, KATA = pool("master"), pool("worker"), pool("infra"), pool("kata-oc")
POOLS = [MASTER, WORKER, INFRA, KATA]


def node(name: str, *roles: str, cur: str = "rendered-x", des: str | None = None, state: str = "Done",
         zone: str | None = None, created: str = NOW, ready: str = "True", unschedulable: bool = False,
         reason: str | None = None) -> dict:
    n = build_node(name, tuple(roles), 0, zone=zone)
    n["metadata"]["creationTimestamp"] = created
    a = n["metadata"]["annotations"]
    a.update({CURRENT_CONFIG: cur, DESIRED_CONFIG: des or cur, STATE: state})
    if reason is not None:
        a[REASON] = reason
    for c in n["status"]["conditions"]:
        if c["type"] == "Ready":
            c["status"] = ready
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return n


def names(items: list[dict]) -> list[str]:
    return [P.name(x) for x in items]


def test_membership_rules():
    assert names(P.pools_for_node(node("w", "worker"), POOLS)) == ["worker"]
    # a custom pool comes first, the worker pool second
    assert names(P.pools_for_node(node("w", "worker", "infra"), POOLS)) == ["infra", "worker"]
    # master wins over a custom pool (the custom role is ignored)
    assert names(P.pools_for_node(node("m", "master", "worker", "infra"), POOLS)) == ["master", "worker"]
    # a master+worker node is in the master pool
    assert names(P.pools_for_node(node("m", "master", "worker"), POOLS)) == ["master"]
    # two custom pools: in none, with the MCO's error
    with pytest.raises(P.PoolMembershipError, match="node w belongs to 2 custom roles, cannot proceed with this Node"):
        P.pools_for_node(node("w", "worker", "infra", "kata-oc"), POOLS)
    # Windows nodes are never managed; an empty selector matches nothing
    win = node("win", "worker")
    win["metadata"]["labels"]["kubernetes.io/os"] = "windows"
    assert P.pools_for_node(win, POOLS) == []
    empty = pool("empty")
    empty["spec"]["nodeSelector"] = {}
    assert names(P.pools_for_node(node("w", "worker"), [WORKER, empty])) == ["worker"]


def test_nodes_for_pool_uses_the_primary_pool():
    ns = [node("w0", "worker"), node("w1", "worker", "infra"), node("w2", "worker", "infra", "kata-oc"),
          node("m0", "master", "worker")]
    members, warnings = P.nodes_for_pool(WORKER, ns, POOLS)
    assert names(members) == ["w0"]
    assert names(P.nodes_for_pool(INFRA, ns, POOLS)[0]) == ["w1"]
    assert names(P.nodes_for_pool(MASTER, ns, POOLS)[0]) == ["m0"]
    assert warnings == ['can\'t get pool for node "w2": node w2 belongs to 2 custom roles, '
                        'cannot proceed with this Node']


@pytest.mark.parametrize(("value", "count", "expected"), [
    (None, 10, 1), (2, 10, 2), (0, 10, 1), ("20%", 10, 2), ("25%", 10, 2), ("5%", 10, 1), ("100%", 3, 3),
    (10, 50, 10), ("0%", 7, 1),
])
def test_max_unavailable(value, count, expected):
    spec = {} if value is None else {"maxUnavailable": value}
    assert P.max_unavailable(pool("worker", **spec), count) == expected


def test_max_unavailable_errors():
    with pytest.raises(ValueError, match="^" + re.escape("maxUnavailable: invalid value for IntOrString: invalid "
                                                         "type: string is not a percentage") + "$"):
        P.max_unavailable(pool("worker", maxUnavailable="2"), 3)
    with pytest.raises(ValueError, match=re.escape('invalid value "x%": strconv.Atoi: parsing "x": invalid syntax')):
        P.max_unavailable(pool("worker", maxUnavailable="x%"), 3)
    assert P.max_unavailable(pool("arbiter", maxUnavailable=5), 3) == 1


def test_unavailable_and_candidates():
    tgt = "rendered-new"
    p = pool("worker", target=tgt)
    done_old = node("a", "worker")
    working = node("b", "worker", des=tgt, state="Working")
    failing = node("c", "worker", des=tgt, state="Degraded", reason="boom")
    cordoned = node("d", "worker", unschedulable=True)
    assert not P.is_unavailable(done_old)
    assert P.is_unavailable(working)
    assert not P.is_unavailable(failing) and P.is_mcd_failing(failing)
    assert P.is_unavailable(cordoned)
    # maxUnavailable 3: b and d are unavailable (capacity 1), c fails this config (capacity 0)
    assert P.candidates(p, [done_old, working, failing, cordoned], 3) == ([], 0)
    cands, cap = P.candidates(p, [done_old, working, node("e", "worker")], 3)
    assert names(cands) == ["a", "e"] and cap == 2
    # a node with no conditions at all counts as ready
    bare = node("f", "worker")
    bare["status"]["conditions"] = []
    assert P.is_ready(bare)
    # never a node that is not ready
    nr = node("g", "worker", ready="False")
    assert names(P.candidates(p, [nr, node("h", "worker")], 5)[0]) == ["h"]


def test_update_order_zone_then_age():
    ns = [node("n1", "worker", zone="b", created="2026-01-01T00:00:01Z"),
          node("n2", "worker", zone="a", created="2026-01-01T00:00:05Z"),
          node("n3", "worker", zone="a", created="2026-01-01T00:00:02Z"),
          node("n4", "worker", created="2026-01-01T00:00:00Z")]
    del ns[3]["metadata"]["labels"]["topology.kubernetes.io/zone"]
    assert names(P.sort_nodes(ns)) == ["n3", "n2", "n1", "n4"]
    p = pool("worker", target="rendered-new")
    assert names(P.choose_targets(p, ns, 2)) == ["n3", "n2"]
    # when all candidates fit, they are taken as they are
    assert sorted(names(P.choose_targets(p, ns, 10))) == ["n1", "n2", "n3", "n4"]


def test_status_all_updated_copies_the_configuration():
    p = pool("worker", target="rendered-new")
    p["status"] = {"configuration": {"name": "rendered-old"}}
    ns = [node(f"w{i}", "worker", cur="rendered-new") for i in range(3)]
    st = P.calculate_status(p, ns, NOW)
    assert st["configuration"] == p["spec"]["configuration"]
    assert (st["machineCount"], st["updatedMachineCount"], st["readyMachineCount"], st["unavailableMachineCount"],
            st["degradedMachineCount"], st["observedGeneration"]) == (3, 3, 3, 0, 0, 2)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Updated"]["status"] == "True"
    assert conds["Updated"]["message"] == "All nodes are updated with MachineConfig rendered-new"
    assert conds["Updating"]["status"] == "False" and conds["Updating"]["message"] == ""
    assert conds["Degraded"]["status"] == "False" and conds["NodeDegraded"]["status"] == "False"


def test_status_while_updating_keeps_the_old_configuration():
    p = pool("worker", target="rendered-new")
    p["status"] = {"configuration": {"name": "rendered-old"}}
    ns = [node("w0", "worker", cur="rendered-new"),
          node("w1", "worker", cur="rendered-old", des="rendered-new", state="Working"),
          node("w2", "worker", cur="rendered-old")]
    st = P.calculate_status(p, ns, NOW)
    assert st["configuration"] == {"name": "rendered-old"}
    assert (st["updatedMachineCount"], st["readyMachineCount"], st["unavailableMachineCount"]) == (1, 1, 1)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Updated"]["status"] == "False"
    assert conds["Updating"] == {"type": "Updating", "status": "True", "lastTransitionTime": NOW, "reason": "",
                                 "message": "All nodes are updating to MachineConfig rendered-new"}
    p["spec"]["paused"] = True
    conds = {c["type"]: c for c in P.calculate_status(p, ns, NOW)["conditions"]}
    assert conds["Updating"]["status"] == "False"
    assert conds["Updating"]["message"] == "Pool is paused; will not update to MachineConfig rendered-new"


def test_zero_nodes_is_all_updated():
    st = P.calculate_status(pool("worker", target="rendered-new"), [], NOW)
    assert st["machineCount"] == 0 and P.is_condition_true(st, "Updated")
    assert st["configuration"]["name"] == "rendered-new"


def test_node_degraded_reason_and_message():
    p = pool("worker", target="rendered-new")
    ns = [node("w0", "worker", des="rendered-new", state="Degraded", reason='disk "full"'),
          node("w1", "worker", state="Degraded", reason="boom"), node("w2", "worker")]
    st = P.calculate_status(p, ns, NOW)
    conds = {c["type"]: c for c in st["conditions"]}
    assert st["degradedMachineCount"] == 2
    assert conds["NodeDegraded"]["reason"] == "2 nodes are reporting degraded status on sync"
    assert conds["NodeDegraded"]["message"] == ('Node w0 is reporting: "disk \\"full\\"", '
                                                'Node w1 is reporting: "boom"')
    assert conds["Degraded"]["status"] == "True" and conds["Degraded"]["message"] == conds["NodeDegraded"]["message"]


def test_render_degraded_makes_degraded_with_empty_message():
    p = pool("worker", target="rendered-x")
    p["status"] = {"conditions": [{"type": "RenderDegraded", "status": "True", "reason": "", "message": "bad",
                                   "lastTransitionTime": NOW}]}
    st = P.calculate_status(p, [node("w0", "worker")], LATER)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Degraded"]["status"] == "True" and conds["Degraded"]["message"] == ""
    assert conds["Updated"]["status"] == "True"  # Updated can stay True while Degraded
    assert conds["RenderDegraded"]["message"] == "bad"


def test_set_condition_semantics():
    st: dict = {}
    P.set_condition(st, "Updated", "True", "", "a", NOW)
    P.set_condition(st, "Updating", "False", "", "", NOW)
    before = [dict(c) for c in st["conditions"]]
    P.set_condition(st, "Updated", "True", "", "a", LATER)  # unchanged: untouched
    assert st["conditions"] == before
    P.set_condition(st, "Updated", "True", "", "b", LATER)  # same status: time kept, moved last
    assert [c["type"] for c in st["conditions"]] == ["Updating", "Updated"]
    assert st["conditions"][-1]["lastTransitionTime"] == NOW and st["conditions"][-1]["message"] == "b"
    P.set_condition(st, "Updated", "False", "", "", LATER)
    assert st["conditions"][-1]["lastTransitionTime"] == LATER


def test_status_unchanged_is_not_rewritten():
    p = pool("worker", target="rendered-x")
    ns = [node("w0", "worker")]
    p["status"] = P.calculate_status(p, ns, NOW)
    again = P.calculate_status(p, ns, LATER)
    assert not P.status_changed(p["status"], again)
    ns[0]["metadata"]["annotations"][STATE] = "Working"
    assert P.status_changed(p["status"], P.calculate_status(p, ns, LATER))


def test_update_taint_and_served_config():
    p = pool("worker", target="rendered-new")
    assert P.wants_update_taint(node("a", "worker", cur="rendered-old"), p)
    assert not P.wants_update_taint(node("a", "worker", cur="rendered-old", des="rendered-new"), p)
    p["status"] = {"updatedMachineCount": 0, "configuration": {"name": "rendered-old"}}
    assert P.served_config(p) == "rendered-old"
    p["status"]["updatedMachineCount"] = 1
    assert P.served_config(p) == "rendered-new"
    p["status"] = {}
    assert P.served_config(p) == "rendered-new"
