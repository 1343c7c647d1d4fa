"""Maintenance windows: the pools paused to stage a change, resumed by a later run (pure parts)."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils._names import PAUSED_BY_ANNOTATION
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import (
    pause_patch,
    paused_by_collection,
    rolling_out,
    waiting_nodes,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    Facts,
    PreflightError,
    Settings,
    decide,
    decide_uninstall,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._status import node_states, staged
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN, node, pool

MC = "50-sandboxed-containers"
WORKERS = ["worker-0", "worker-1", "worker-2"]


def marked(p: dict) -> dict:
    p["metadata"]["annotations"] = {PAUSED_BY_ANNOTATION: "install"}
    return p


def nodes(current: str = "rendered-worker-1", **labels) -> list[dict]:
    return [node(f"master-{i}", "master") for i in range(3)] + [
        node(f"worker-{i}", "worker", current=current, **labels.get(f"worker-{i}", {})) for i in range(3)]


def decided(rollout: str, pools: list[dict], ns: list[dict] | None = None, **kw):
    return decide(Settings(crio_dropin=DROPIN, virtualization_check="ignore", rollout=rollout, **kw),
                  Facts(nodes=ns or nodes(), pools=pools))


def test_only_a_paused_pool_with_the_collections_mark_is_its_own_to_resume():
    assert paused_by_collection(marked(pool("worker", paused=True)))
    assert not paused_by_collection(pool("worker", paused=True))  # someone else's pause
    assert not paused_by_collection(marked(pool("worker")))  # a stale mark: nothing to resume
    assert pause_patch(True) == {"metadata": {"annotations": {PAUSED_BY_ANNOTATION: "install"}},
                                 "spec": {"paused": True}}
    assert pause_patch(False) == {"metadata": {"annotations": {PAUSED_BY_ANNOTATION: None}},
                                  "spec": {"paused": False}}


def test_a_rollout_under_way_is_named_with_its_state():
    assert rolling_out(pool("worker", target="rendered-worker-1")) is None
    updating = pool("worker", target="rendered-worker-2", status_config="rendered-worker-1",
                    conds={"Updating": ("True", "", "All nodes are updating to MachineConfig rendered-worker-2")})
    assert rolling_out(updating) == ("rolling out rendered-worker-2 (Updating: All nodes are updating to "
                                     "MachineConfig rendered-worker-2)")
    # Just rendered: the MCO has not said Updating yet, but spec and status differ.
    assert rolling_out(pool("worker", target="rendered-worker-2", status_config="rendered-worker-1")) == (
        "rolling out rendered-worker-2 (its nodes are still on rendered-worker-1)")


def test_staged_pauses_the_target_pool_and_names_the_nodes_that_reboot_when_it_resumes():
    d = decided("staged", [pool("master"), pool("worker")])
    assert d.window == {"pause": ["worker"], "resume": [], "staged": {"worker": WORKERS}}
    assert any("staged, pool paused: the collection pauses pool worker" in m
               and "worker-0, worker-1, worker-2 reboot once when pool worker resumes" in m for m in d.messages)


def test_staged_on_a_custom_pool_pauses_that_pool_only():
    ns = nodes(**{"worker-0": {"kata": "yes"}})
    d = decided("staged", [pool("master"), pool("worker")], ns, node_selector={"matchLabels": {"kata": "yes"}})
    assert d.window["pause"] == ["kata-oc"]
    assert d.window["staged"] == {"kata-oc": ["worker-0"]}


def test_staging_is_refused_while_the_pool_rolls_out_for_someone_else_naming_the_pool_and_its_state():
    busy = pool("worker", target="rendered-worker-2", status_config="rendered-worker-1",
                conds={"Updating": ("True", "", "All nodes are updating to MachineConfig rendered-worker-2")})
    with pytest.raises(PreflightError, match=r"pool worker is rolling out rendered-worker-2 \(Updating: All nodes "
                                             r"are updating.*sandboxed_containers_rollout: staged again"):
        decided("staged", [pool("master"), busy])
    # Not staged: the rollout of someone else is no reason to refuse (the wait follows it).
    assert decided("now", [pool("master"), busy]).window == {"pause": [], "resume": [], "staged": {}}


def test_a_staged_rerun_keeps_the_pool_paused_and_still_names_the_waiting_nodes():
    mc = o.machine_config("worker", DROPIN)
    ours = marked(pool("worker", target="rendered-worker-2", sources=(MC,), status_config="rendered-worker-1",
                       paused=True))
    d = decide(Settings(crio_dropin=DROPIN, virtualization_check="ignore", rollout="staged"),
               Facts(nodes=nodes(), pools=[pool("master"), ours], machine_configs=[mc], current_mc=mc))
    assert d.plan["reboot"] == []  # the MachineConfig does not change
    assert d.window == {"pause": ["worker"], "resume": [], "staged": {"worker": WORKERS}}


def test_now_resumes_the_pools_the_collection_paused_and_names_who_updates():
    ours = marked(pool("worker", target="rendered-worker-2", paused=True, status_config="rendered-worker-1"))
    d = decided("now", [pool("master"), ours])
    assert d.window == {"pause": [], "resume": ["worker"], "staged": {"worker": WORKERS}}
    assert any("the install resumes pool worker" in m for m in d.messages)


def test_a_pool_paused_by_someone_else_is_refused_either_way():
    for rollout in ("now", "staged"):
        with pytest.raises(PreflightError, match="pool worker is paused"):
            decided(rollout, [pool("master"), pool("worker", paused=True)])


def test_staged_cannot_move_nodes_between_pools():
    mc = o.machine_config("worker", DROPIN)
    ns = nodes(**{"worker-0": {"kata": "yes"}})
    with pytest.raises(PreflightError, match=r"staged cannot move nodes between pools.*into the custom pool"):
        decide(Settings(crio_dropin=DROPIN, virtualization_check="ignore", rollout="staged",
                        node_selector={"matchLabels": {"kata": "yes"}}),
               Facts(nodes=ns, pools=[pool("master"), pool("worker", target="r", sources=(MC,))],
                     machine_configs=[mc], current_mc=mc))


def test_a_rollout_setting_other_than_now_or_staged_is_refused():
    with pytest.raises(PreflightError, match=r"sandboxed_containers_rollout 'later' must be now .* or staged"):
        decided("later", [pool("master"), pool("worker")])


def test_uninstall_resumes_the_collections_pause_and_refuses_someone_elses():
    mc = o.machine_config("worker", DROPIN)
    ours = marked(pool("worker", target="r", sources=(MC,), paused=True))
    f = Facts(nodes=nodes(), pools=[pool("master"), ours], machine_configs=[mc], current_mc=mc)
    r = decide_uninstall(f, pool_name="kata-oc", runtime_class="kata", pods=[], force=False)
    assert r.resume == ["worker"]
    assert any("the uninstall resumes pool worker" in m for m in r.messages)
    theirs = pool("worker", target="r", sources=(MC,), paused=True)
    f = Facts(nodes=nodes(), pools=[pool("master"), theirs], machine_configs=[mc], current_mc=mc)
    with pytest.raises(PreflightError, match=r"pool worker .*is paused.*resumes only the pools it paused"):
        decide_uninstall(f, pool_name="kata-oc", runtime_class="kata", pods=[], force=False)


def test_status_says_staged_pool_paused_with_the_nodes_that_update_when_it_resumes():
    ours = marked(pool("worker", target="rendered-worker-2", sources=(MC,), paused=True))
    ns = nodes()
    states = node_states(ns, [pool("master", target="rendered-master-1"), ours], MC)
    assert staged([ours], states) == {"worker": WORKERS}
    w0 = next(s for s in states if s["name"] == "worker-0")
    assert w0["readiness"] == "blocked"
    assert w0["readiness_reason"].startswith("staged, pool paused: pool worker is paused by the collection")
    running = pool("worker", target="rendered-worker-2", sources=(MC,))
    assert staged([running], node_states(ns, [running], MC)) == {}
    assert waiting_nodes(ours, [n for n in ns if n["metadata"]["name"] == "worker-1"]) == ["worker-1"]
