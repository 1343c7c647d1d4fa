"""The simulated kubelets: pods run where their runtime is configured, drains evict, Jobs finish."""

from __future__ import annotations

import ipaddress
import time

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sim import testing as st
from sim.kube import mcp_path

IMAGE = "registry.invalid/ubi9/ubi-minimal:latest"


def _pod(name: str, node: str | None = None, runtime_class: str | None = None, **meta) -> dict:
    spec: dict = {"containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "infinity"]}]}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta}, "spec": spec}


def _ensure_runtime_class(api) -> None:
    """A `kata` RuntimeClass with no scheduling: one an earlier test (or the collection) left may select nodes."""
    node = client.NodeV1Api(api)
    try:
        node.delete_runtime_class("kata")
    except ApiException as e:
        if e.status != 404:
            raise
    st.wait_for(lambda: not [rc for rc in node.list_runtime_class().items if rc.metadata.name == "kata"], 30,
                what="the old kata RuntimeClass gone")
    node.create_runtime_class({
        "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata"}, "handler": "kata",
        "overhead": {"podFixed": {"cpu": "250m", "memory": "350Mi"}}})


def _events(api, ns: str, pod: str) -> list:
    return [e for e in client.CoreV1Api(api).list_namespaced_event(ns).items if e.involved_object.name == pod]


def test_kata_pods_run_where_the_rpm_or_a_table_configures_the_handler(sim, sim_namespace):
    # The premise changed: the kata-containers RPM ships /etc/crio/crio.conf.d/50-kata, so the extension
    # alone (worker-2) gives the kata handler, as on RHCOS; a table without the extension (worker-1) does not.
    k = st.kube(sim)
    dropin = {"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()}
    # worker-0: extension and runtime table; worker-1: the table only; worker-2: the extension only
    kata_oc = st.machine_config("50-kata", "kata-oc", extensions=["sandboxed-containers"], files=dropin)
    for pool, mc in (("kata-oc", kata_oc),
                     ("tableonly", st.machine_config("50-table", "tableonly", files=dropin)),
                     ("extonly", st.machine_config("50-ext", "extonly", extensions=["sandboxed-containers"]))):
        k.create(mcp_path(), st.custom_pool(pool))
        st.create_mc(sim, mc)
    for pool, node in (("kata-oc", "worker-0"), ("tableonly", "worker-1"), ("extonly", "worker-2")):
        st.label_node(sim, node, {f"node-role.kubernetes.io/{pool}": ""})
    for pool, mc in (("kata-oc", "50-kata"), ("tableonly", "50-table"), ("extonly", "50-ext")):
        st.wait_for(lambda pool=pool: st.pool_machines(sim, pool) == 1, what=f"{pool} member")
        st.wait_pool_converged(sim, pool, contains=[mc])
    _ensure_runtime_class(sim)
    core = client.CoreV1Api(sim)
    for node in ("worker-0", "worker-1", "worker-2"):
        core.create_namespaced_pod(sim_namespace, _pod(f"kata-{node}", node, "kata"))
    for node in ("worker-0", "worker-2"):
        st.wait_for(lambda node=node: core.read_namespaced_pod(f"kata-{node}", sim_namespace).status.phase
                    == "Running", what=f"the kata pod on {node}")
    ev = st.wait_for(lambda: [e for e in _events(sim, sim_namespace, "kata-worker-1")
                              if e.reason == "FailedCreatePodSandBox"], what="the error on worker-1")
    assert ev[0].type == "Warning" and ev[0].source.component == "kubelet" and ev[0].source.host == "worker-1"
    assert ev[0].message.startswith("Failed to create pod sandbox: rpc error: code = Unknown desc = failed to "
                                    "find runtime handler kata from runtime list map[crun:0xc000")
    pod = core.read_namespaced_pod("kata-worker-1", sim_namespace)
    assert pod.spec.node_name == "worker-1" and pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "ContainersNotReady")
    pod = core.read_namespaced_pod("kata-worker-0", sim_namespace)
    assert pod.spec.overhead == {"cpu": "250m", "memory": "350Mi"}


def _handlers(api, node: str) -> list[dict] | None:
    return st.wait_for(lambda: next(n for n in st.nodes(api) if n["metadata"]["name"] == node), 10)[
        "status"].get("runtimeHandlers")


def test_the_kubelet_reports_the_handlers_crio_loaded_at_boot_from_kubernetes_1_31(sim):
    # Fresh nodes: CRI-O's handlers of the base config, and "" for the default one (crun from 4.18), each with
    # both features spelled out, as the kubelet's RuntimeHandlers setter writes them.
    before = st.wait_for(lambda: _handlers(sim, "worker-0"), 30, what="worker-0's runtime handlers")
    names = [h["name"] for h in before]
    assert "kata" not in names and "" in names and "crun" in names, before
    assert all(set(h["features"]) == {"recursiveReadOnlyMounts", "userNamespaces"} for h in before)
    assert next(h for h in before if h["name"] == "crun")["features"]["recursiveReadOnlyMounts"] is True
    # The extension, after the reboot: CRI-O loaded the RPM's kata table, and the kubelet says so.
    st.create_mc(sim, st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"]))
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    after = st.wait_for(lambda: (h := _handlers(sim, "worker-0")) and "kata" in [x["name"] for x in h] and h, 30,
                        what="kata among worker-0's runtime handlers")
    kata = next(h for h in after if h["name"] == "kata")
    assert kata["features"] == {"recursiveReadOnlyMounts": False, "userNamespaces": False}  # no `features` command
    # Before 1.31 (OpenShift 4.17 and older) both feature gates the setter needs are off: no field at all.
    st.configure(sim, openshift_version="4.17")
    st.add_node(sim, "worker-9")
    assert _handlers(sim, "worker-9") is None


def test_run_as_non_root_against_a_root_image(sim, sim_namespace):
    st.configure(sim, image_users={"registry.invalid/app:1": "1001", "registry.invalid/named:1": "nginx"})
    core = client.CoreV1Api(sim)

    def pod(name: str, image: str = IMAGE, **sc) -> dict:
        body = _pod(name, "worker-0")
        body["spec"]["containers"][0]["image"] = image
        body["spec"]["securityContext"] = {"runAsNonRoot": True}
        if sc:
            body["spec"]["containers"][0]["securityContext"] = sc
        return body

    core.create_namespaced_pod(sim_namespace, pod("root"))  # ubi-minimal runs as root (the default user "0")
    core.create_namespaced_pod(sim_namespace, pod("uid0", runAsUser=0))
    core.create_namespaced_pod(sim_namespace, pod("named", "registry.invalid/named:1"))
    core.create_namespaced_pod(sim_namespace, pod("ok", "registry.invalid/app:1"))
    core.create_namespaced_pod(sim_namespace, pod("ok-uid", runAsUser=1000680000))
    for name in ("ok", "ok-uid"):
        st.wait_for(lambda name=name: core.read_namespaced_pod(name, sim_namespace).status.phase == "Running",
                    what=f"pod {name} running")
    expected = {
        "root": "container has runAsNonRoot and image will run as root",
        "uid0": "container's runAsUser breaks non-root policy",
        "named": "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is non-root",
    }
    for name, text in expected.items():
        p = st.wait_for(lambda name=name: (x := core.read_namespaced_pod(name, sim_namespace)).status
                        .container_statuses and x.status.container_statuses[0].state.waiting
                        and x.status.container_statuses[0].state.waiting.reason == "CreateContainerConfigError"
                        and x, what=f"pod {name} refused")
        msg = f'{text} (pod: "{name}_{sim_namespace}({p.metadata.uid})", container: main)'
        assert p.status.phase == "Pending" and p.status.container_statuses[0].state.waiting.message == msg
        assert p.status.pod_ip  # the sandbox runs; the container is never created
        ev = st.wait_for(lambda name=name: [e for e in _events(sim, sim_namespace, name) if e.reason == "Failed"],
                         what=f"the event of {name}")
        assert ev[0].type == "Warning" and ev[0].message == f"Error: {msg}"
        assert ev[0].source.component == "kubelet" and ev[0].involved_object.field_path == "spec.containers{main}"


def test_pods_get_a_normal_status(sim, sim_namespace):
    core, apps = client.CoreV1Api(sim), client.AppsV1Api(sim)
    apps.create_namespaced_deployment(sim_namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": IMAGE}]}}}})
    st.wait_for(lambda: (apps.read_namespaced_deployment("web", sim_namespace).status.ready_replicas or 0) == 3,
                what="3 ready replicas")
    nodes = {n["metadata"]["name"]: n for n in st.nodes(sim)}
    for pod in core.list_namespaced_pod(sim_namespace, label_selector="app=web").items:
        node = nodes[pod.spec.node_name]
        assert pod.spec.node_name.startswith("worker-")
        assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(node["spec"]["podCIDR"])
        assert pod.status.host_ip == node["status"]["addresses"][0]["address"]
        assert {c.type: c.status for c in pod.status.conditions} == {
            "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
            "PodScheduled": "True"}
        cs = pod.status.container_statuses[0]
        assert cs.ready and cs.started and cs.state.running and cs.container_id.startswith("cri-o://")
        assert pod.status.start_time is not None
    ips = [p.status.pod_ip for p in core.list_namespaced_pod(sim_namespace).items]
    assert len(ips) == len(set(ips))
    # deleted pods go at once
    victim = core.list_namespaced_pod(sim_namespace, label_selector="app=web").items[0].metadata.name
    core.delete_namespaced_pod(victim, sim_namespace)

    def gone() -> bool:
        try:
            core.read_namespaced_pod(victim, sim_namespace)
        except ApiException as e:
            return e.status == 404
        return False

    st.wait_for(gone, timeout=5, what="the deleted pod to go")


def test_jobs_complete(sim, sim_namespace):
    st.configure(sim, job_pod_seconds=1)
    batch = client.BatchV1Api(sim)
    batch.create_namespaced_job(sim_namespace, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": IMAGE, "command": ["true"]}]}}}})
    job = st.wait_for(lambda: (j := batch.read_namespaced_job("once", sim_namespace)).status.succeeded == 1 and j,
                      timeout=30, what="the job to succeed")
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)
    pod = client.CoreV1Api(sim).list_namespaced_pod(sim_namespace, label_selector="job-name=once").items[0]
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.reason == "Completed"


def test_drain_evicts_pods_but_not_daemonset_pods(sim, sim_namespace):
    st.configure(sim, node_update=1)
    core, apps = client.CoreV1Api(sim), client.AppsV1Api(sim)
    apps.create_namespaced_deployment(sim_namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": IMAGE}]}}}})
    apps.create_namespaced_daemon_set(sim_namespace, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": IMAGE}]}}}})
    st.wait_for(lambda: (apps.read_namespaced_deployment("web", sim_namespace).status.ready_replicas or 0) == 3,
                what="3 web replicas")
    st.wait_for(lambda: (apps.read_namespaced_daemon_set("agent", sim_namespace).status.number_ready or 0) == 3,
                what="3 agents")
    web_before = {p.metadata.uid for p in core.list_namespaced_pod(sim_namespace, label_selector="app=web").items}
    agents_before = {p.metadata.uid: p.spec.node_name for p in core.list_namespaced_pod(
        sim_namespace, label_selector="app=agent").items}
    st.create_mc(sim, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))
    st.wait_pool_converged(sim, "worker", contains=["50-x"])
    st.wait_for(lambda: (apps.read_namespaced_deployment("web", sim_namespace).status.ready_replicas or 0) == 3,
                what="3 web replicas again")
    web_after = {p.metadata.uid for p in core.list_namespaced_pod(sim_namespace, label_selector="app=web").items}
    assert not web_before & web_after  # every web pod was evicted and recreated
    agents_after = {p.metadata.uid: p.spec.node_name for p in core.list_namespaced_pod(
        sim_namespace, label_selector="app=agent").items}
    assert agents_after == agents_before  # DaemonSet pods stay
    assert all(p.status.phase == "Running" for p in core.list_namespaced_pod(sim_namespace).items)


def test_a_disruption_budget_holds_the_drain(sim, sim_namespace):
    st.configure(sim, node_update=0.5, drain_retry=0.5)
    core, apps, policy = client.CoreV1Api(sim), client.AppsV1Api(sim), client.PolicyV1Api(sim)
    apps.create_namespaced_deployment(sim_namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"nodeSelector": {"kubernetes.io/hostname": "worker-0"},
                                       "containers": [{"name": "db", "image": IMAGE}]}}}})
    policy.create_namespaced_pod_disruption_budget(sim_namespace, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "db"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}})
    st.wait_for(lambda: (apps.read_namespaced_deployment("db", sim_namespace).status.ready_replicas or 0) == 1,
                what="the db pod")
    st.wait_for(lambda: policy.read_namespaced_pod_disruption_budget("db", sim_namespace).status.observed_generation,
                what="the budget to be computed")
    st.create_mc(sim, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))
    st.wait_for(lambda: next(n for n in st.nodes(sim) if n["metadata"]["name"] == "worker-0")["spec"].get(
        "unschedulable"), what="worker-0 cordoned")
    time.sleep(3)
    n = next(n for n in st.nodes(sim) if n["metadata"]["name"] == "worker-0")
    a = n["metadata"]["annotations"]
    assert a["machineconfiguration.openshift.io/desiredDrain"].startswith("drain-")
    assert a.get("machineconfiguration.openshift.io/lastAppliedDrain") != a[
        "machineconfiguration.openshift.io/desiredDrain"]
    assert st.reboots(sim)["worker-0"] == 0
    assert len(core.list_namespaced_pod(sim_namespace, label_selector="app=db").items) == 1
    policy.delete_namespaced_pod_disruption_budget("db", sim_namespace)
    st.wait_pool_converged(sim, "worker", contains=["50-x"])
    st.wait_for(lambda: (apps.read_namespaced_deployment("db", sim_namespace).status.ready_replicas or 0) == 1,
                what="the db pod back")
    assert st.reboots(sim)["worker-0"] == 1


def test_a_held_drain_fails_retries_and_degrades_as_the_mco_does(sim, sim_namespace):
    # Scaled: the helper retries every 0.2 s for 1 s, a failed run is retried after 0.6 s, after 1.5 s of failures
    # every 0.9 s; after 3 s the controller says the drain exceeded its timeout and the daemon degrades.
    st.configure(sim, node_update=0.5, drain_retry=0.2, drain_helper_timeout=1, drain_requeue=0.6,
                 drain_requeue_failing_threshold=1.5, drain_requeue_failing=0.9, drain_timeout=3)
    apps, policy, core = client.AppsV1Api(sim), client.PolicyV1Api(sim), client.CoreV1Api(sim)
    apps.create_namespaced_deployment(sim_namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"nodeSelector": {"kubernetes.io/hostname": "worker-0"},
                                       "containers": [{"name": "db", "image": IMAGE}]}}}})
    policy.create_namespaced_pod_disruption_budget(sim_namespace, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "db"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}})
    st.wait_for(lambda: (policy.read_namespaced_pod_disruption_budget("db", sim_namespace).status.current_healthy
                         or 0) == 1, what="the budget counting the db pod")
    st.create_mc(sim, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))

    def events(reason: str) -> list:
        return [e for e in core.list_namespaced_event("openshift-machine-config-operator").items
                if e.reason == reason and e.involved_object.name == "worker-0"]

    threshold = st.wait_for(lambda: events("DrainThresholdExceeded"), 30, what="DrainThresholdExceeded")
    assert threshold[0].message.startswith("Drain failed. Drain has been failing for more than 0.025 minutes. "
                                           "Waiting 0.015 minutes then retrying. Error message from drain: "
                                           'error when evicting pods/"db-')
    assert threshold[0].message.endswith(f'-n "{sim_namespace}": global timeout reached: 1s')
    failed = st.wait_for(lambda: events("DrainFailed"), 30, what="DrainFailed")
    assert failed[0].message == "node worker-0: drain exceeded timeout: 3s. Will continue to retry."
    node = st.wait_for(lambda: next(n for n in st.nodes(sim) if n["metadata"]["name"] == "worker-0"
                                    and n["metadata"]["annotations"].get(
                                        "machineconfiguration.openshift.io/state") == "Degraded"), 30,
                       what="worker-0 Degraded")
    assert node["metadata"]["annotations"]["machineconfiguration.openshift.io/reason"].startswith(
        "failed to drain node: worker-0 after 1 hour. Please see machine-config-controller logs")
    policy.delete_namespaced_pod_disruption_budget("db", sim_namespace)
    # The budget relaxed, the retries go on, the drain finishes and the daemon retries its update (its backoff).
    st.wait_pool_converged(sim, "worker", contains=["50-x"], timeout=90, allow_degraded=True)
