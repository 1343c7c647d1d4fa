"""The drain preview, its blockers (stop or warn), and the wait naming a drain a PodDisruptionBudget holds."""

from __future__ import annotations

import re
import time

from kubernetes import client
from test_install import Output

from sim import testing as st
from support import new_namespace, snapshot

WORKER_0 = {"sandboxed_containers_node_selector": {"matchLabels": {"kubernetes.io/hostname": "worker-0"}}}


def guarded_app(api) -> str:
    """One Deployment replica on worker-0 under a budget of minAvailable 1 (it allows no disruption), and a pod
    without a controller on worker-0; returns the namespace once the budget counts the replica healthy."""
    ns = new_namespace(api)
    apps, core, policy = client.AppsV1Api(api), client.CoreV1Api(api), client.PolicyV1Api(api)
    container = client.V1Container(name="c", image="registry.invalid/app:1")
    apps.create_namespaced_deployment(ns, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(node_selector={"kubernetes.io/hostname": "worker-0"},
                                      containers=[container])))))
    policy.create_namespaced_pod_disruption_budget(ns, client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1PodDisruptionBudgetSpec(min_available=1,
                                              selector=client.V1LabelSelector(match_labels={"app": "web"}))))
    core.create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name="bare"),
        spec=client.V1PodSpec(node_name="worker-0", containers=[container])))

    def guarded():
        pdb = policy.read_namespaced_pod_disruption_budget("web", ns)
        s = pdb.status
        return s is not None and s.current_healthy == 1 and s.disruptions_allowed == 0

    st.wait_for(guarded, 90, what="the budget counting the replica healthy")
    return ns


def web_pod(api, ns: str) -> str:
    pods = client.CoreV1Api(api).list_namespaced_pod(ns, label_selector="app=web").items
    return f"{ns}/{pods[0].metadata.name}"


def test_check_mode_previews_the_drain_and_changes_nothing(cluster, ansible, fresh):
    api = fresh
    ns = guarded_app(api)
    web = web_pod(api, ns)
    before = snapshot(api)
    r = ansible.run("install", check=True, extra_vars={**WORKER_0, "sandboxed_containers_drain_blockers": "warn"})
    assert r.rc == 0, r
    assert f"Drain of worker-0: evicts {ns}/bare, {web}" in r.text
    assert f"{ns}/bare has no controller: the drain deletes it and nothing recreates it" in r.text
    assert f"the drain of worker-0 is held by {web} (PodDisruptionBudget web)" in r.text
    assert snapshot(api) == before


def test_blockers_stop_the_run_before_any_change(cluster, ansible, fresh):
    api = fresh
    ns = guarded_app(api)
    web = web_pod(api, ns)
    before = snapshot(api)
    r = ansible.run("install", extra_vars=WORKER_0)
    assert r.rc != 0, r
    assert "the drain of worker-0 is held by" in r.text
    assert f"{web} (PodDisruptionBudget web)" in r.text
    assert f"{ns}/bare" in r.text
    assert "sandboxed_containers_drain_blockers: warn" in r.text
    assert "Nothing was changed." in r.text
    assert snapshot(api) == before
    assert st.reboots(api) == dict.fromkeys(before["nodes"], 0)


def test_with_warn_the_wait_names_the_held_drain_within_seconds(cluster, ansible, fresh):
    api = fresh
    ns = guarded_app(api)
    web = web_pod(api, ns)
    held = f"the drain of worker-0 is held by {web} (PodDisruptionBudget web)"
    extra = {**WORKER_0, "sandboxed_containers_drain_blockers": "warn", "sandboxed_containers_wait_timeout": 40}
    with Output(ansible.start("install", extra_vars=extra)) as install:
        st.wait_for(lambda: any(n["metadata"]["name"] == "worker-0" and (n.get("spec") or {}).get("unschedulable")
                                for n in st.nodes(api)), 120, what="worker-0 cordoned")
        cordoned = time.monotonic()
        install.first(lambda line: held in line, 30, what="the held drain")
        assert time.monotonic() - cordoned < 15
        assert install.finish(120) != 0
    assert re.search(r"timed out after 40 s .*" + re.escape(held), install.text), install.text
    # The budget relaxed, the drain goes on and a re-run finishes.
    client.PolicyV1Api(api).delete_namespaced_pod_disruption_budget("web", ns)
    r = ansible.run("install", extra_vars={**WORKER_0, "sandboxed_containers_drain_blockers": "warn"})
    assert r.rc == 0, r
    assert st.reboots(api)["worker-0"] == 1
