"""The drain preview: which pods a drain evicts, loses or is held by."""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._drain import (
    budgets_holding,
    held_words,
    preview,
    stays,
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
