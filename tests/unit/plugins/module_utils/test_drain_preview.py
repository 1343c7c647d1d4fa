"""The drain preview: which pods a drain evicts, loses or is held by."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._drain import (
    blockers,
    budgets_holding,
    drain_pending,
    held_words,
    lines,
    name_held,
    preview,
    stays,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    PreflightError,
    Settings,
    check_drain,
    validate_settings,
)


def pod(name, node="worker-0", ns="app", labels=None, owner=None, phase="Running", volumes=None, mirror=False):
    md = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        md["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    if mirror:
        md["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    return {"metadata": md, "spec": {"nodeName": node, "volumes": volumes or []}, "status": {"phase": phase}}


def pdb(name, ns="app", selector=None, allowed=0):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": selector},
            "status": {"disruptionsAllowed": allowed}}


def test_daemonset_mirror_and_finished_pods_stay():
    assert stays(pod("ds", owner="DaemonSet"))
    assert stays(pod("static", mirror=True))
    assert stays(pod("done", owner="Job", phase="Succeeded"))
    assert not stays(pod("web", owner="ReplicaSet"))
    assert not stays(pod("bare"))


def test_a_budget_allowing_no_disruption_holds_the_pods_it_selects():
    web = pod("web", labels={"app": "web"}, owner="ReplicaSet")
    assert budgets_holding(web, [pdb("web", selector={"matchLabels": {"app": "web"}})]) == ["web"]
    assert budgets_holding(web, [pdb("web", selector={"matchLabels": {"app": "web"}}, allowed=1)]) == []
    assert budgets_holding(web, [pdb("db", selector={"matchLabels": {"app": "db"}})]) == []
    assert budgets_holding(web, [pdb("web", ns="other", selector={})]) == []


def test_a_null_selector_selects_nothing_and_an_empty_one_everything():
    web = pod("web", labels={"app": "web"})
    assert budgets_holding(web, [pdb("none", selector=None)]) == []
    assert budgets_holding(web, [pdb("all", selector={})]) == ["all"]


def test_two_budgets_selecting_a_pod_hold_it_even_when_both_allow_disruption():
    web = pod("web", labels={"app": "web"})
    budgets = [pdb("b", selector={}, allowed=1), pdb("a", selector={"matchLabels": {"app": "web"}}, allowed=2)]
    assert budgets_holding(web, budgets) == ["a", "b"]


def test_preview_names_evicted_unmanaged_empty_dir_and_held_pods_of_the_node_only():
    pods = [
        pod("web-1", labels={"app": "web"}, owner="ReplicaSet"),
        pod("bare", volumes=[{"name": "scratch", "emptyDir": {}}]),
        pod("ds", owner="DaemonSet"),
        pod("elsewhere", node="worker-1"),
    ]
    out = preview("worker-0", pods, [pdb("web", selector={"matchLabels": {"app": "web"}})])
    assert out == {
        "node": "worker-0",
        "evicted": ["app/bare", "app/web-1"],
        "unmanaged": ["app/bare"],
        "empty_dir": ["app/bare"],
        "held": [{"pod": "app/web-1", "budgets": ["web"]}],
    }
    assert held_words("worker-0", out["held"]) == \
        "the drain of worker-0 is held by app/web-1 (PodDisruptionBudget web)"


def _guarded() -> tuple[list[dict], list[dict]]:
    pods = [pod("web-1", labels={"app": "web"}, owner="ReplicaSet"),
            pod("bare", volumes=[{"name": "scratch", "emptyDir": {}}]),
            pod("cache", owner="ReplicaSet", node="worker-1", volumes=[{"name": "c", "emptyDir": {}}])]
    return pods, [pdb("web", selector={"matchLabels": {"app": "web"}})]


def test_the_preview_in_words_names_evicted_lost_empty_dir_and_held_pods():
    pods, budgets = _guarded()
    previews = [preview("worker-0", pods, budgets), preview("worker-2", pods, budgets)]
    assert lines(previews) == [
        "Drain of worker-0: evicts app/bare, app/web-1",
        "app/bare has no controller: the drain deletes it and nothing recreates it",
        "app/bare has emptyDir volumes: the drain deletes their data",
        "the drain of worker-0 is held by app/web-1 (PodDisruptionBudget web)",
        "Drain of worker-2: evicts no pod",
    ]


def test_blockers_are_held_and_lost_pods_but_not_empty_dir_data():
    pods, budgets = _guarded()
    assert blockers([preview("worker-0", pods, budgets)]) == [
        "the drain of worker-0 is held by app/web-1 (PodDisruptionBudget web)",
        "app/bare on worker-0 has no controller: the drain deletes it and nothing recreates it",
    ]
    assert blockers([preview("worker-1", pods, budgets)]) == []  # emptyDir only


def test_stop_refuses_naming_node_pod_budget_and_the_fixes():
    pods, budgets = _guarded()
    with pytest.raises(PreflightError) as e:
        check_drain(Settings(), ["worker-0"], pods, budgets)
    msg = str(e.value)
    assert "the drain of worker-0 is held by app/web-1 (PodDisruptionBudget web)" in msg
    assert "app/bare on worker-0 has no controller" in msg
    assert "relax its PodDisruptionBudget" in msg and "sandboxed_containers_drain_blockers: warn" in msg


def test_warn_goes_on_with_the_blockers_as_warnings_and_no_blocker_no_warning():
    pods, budgets = _guarded()
    previews, warnings = check_drain(Settings(drain_blockers="warn"), ["worker-0"], pods, budgets)
    assert previews[0]["held"] == [{"pod": "app/web-1", "budgets": ["web"]}]
    assert warnings == ["drain: the drain of worker-0 is held by app/web-1 (PodDisruptionBudget web)",
                        "drain: app/bare on worker-0 has no controller: the drain deletes it and nothing recreates it"]
    assert check_drain(Settings(), ["worker-1"], pods, budgets)[1] == []


def test_drain_blockers_other_than_stop_or_warn_is_refused():
    with pytest.raises(PreflightError, match="sandboxed_containers_drain_blockers 'ignore' must be stop"):
        validate_settings(Settings(drain_blockers="ignore"))


def _node(desired=None, last=None):
    a = {}
    if desired:
        a["machineconfiguration.openshift.io/desiredDrain"] = desired
    if last:
        a["machineconfiguration.openshift.io/lastAppliedDrain"] = last
    return {"metadata": {"name": "worker-0", "annotations": a}}


def test_a_drain_is_pending_from_the_request_until_the_controller_applied_it():
    assert drain_pending(_node("drain-rendered-b", "uncordon-rendered-a"))
    assert drain_pending(_node("drain-rendered-b"))
    assert not drain_pending(_node("drain-rendered-b", "drain-rendered-b"))
    assert not drain_pending(_node("uncordon-rendered-b", "drain-rendered-b"))
    assert not drain_pending(_node())


def test_the_held_drain_is_named_after_the_working_node_once():
    held = [{"pod": "app/web-1", "budgets": ["web"]}]
    text = name_held("kata-oc: 0/1 updated; worker-0 Working", "worker-0", held)
    assert text == ("kata-oc: 0/1 updated; worker-0 Working: the drain of worker-0 is held by app/web-1 "
                    "(PodDisruptionBudget web)")
    assert name_held(text, "worker-0", held) == text
    assert name_held("kata-oc: 0/1 updated", "worker-0", held) == \
        "kata-oc: 0/1 updated; the drain of worker-0 is held by app/web-1 (PodDisruptionBudget web)"


def test_a_pod_already_being_deleted_is_left_out():
    going = pod("old", labels={"app": "web"}, owner="ReplicaSet")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    out = preview("worker-0", [going], [pdb("web", selector={})])
    assert out["evicted"] == [] and out["held"] == []
