"""playbooks/doctor.yml (issue 14, item 5): each stuck state users hit, built on the local cluster, recognised by
the doctor run as the automation identity with the shipped ClusterRole; the evidence names the objects, the fix is
there, the JSON report has the finding and ansible-playbook exits 2; a healthy cluster has no finding and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from kubernetes import client

from localcluster.bootstrap import install_kataconfig_crd
from playbook import Result
from sim import testing as st
from support import FAST, clean_up, new_namespace

AUTOMATION = {"kind": "User", "name": "automation"}
SEL = {"sandboxed_containers_node_selector": {"matchLabels": {"sandboxed": "yes"}}}
POLICY = {"sandboxed_containers_policy": {"modes": ["namespaces"]}}
MCD = "machineconfiguration.openshift.io/"
MCP_API = "/apis/machineconfiguration.openshift.io/v1/machineconfigpools"
VAP_NAMES = ("sandboxed-containers-runtime-class", "sandboxed-containers-runtime-class-handler")


@pytest.fixture(scope="module")
def automation(cluster, ansible):
    """The user automation, bound to the shipped role for the whole module."""
    r = ansible.run("automation_access", report=False,
                    extra_vars={"sandboxed_containers_automation_subjects": [AUTOMATION]})
    assert r.rc == 0, r
    auto = cluster.api("automation")
    st.wait_for(lambda: _may(auto, "list", "policy", "poddisruptionbudgets"), 30, what="the role to be in force")
    yield auto
    ansible.run("automation_access", report=False, extra_vars={"sandboxed_containers_automation_state": "absent"})


def _may(api, verb: str, group: str, resource: str) -> bool:
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            verb=verb, group=group, resource=resource))))
    return bool(review.status.allowed)


@pytest.fixture
def clean(cluster, automation):
    """A fresh standard cluster (3 workers, quick simulated nodes), worker-1 labelled for the selector; the
    collection's objects, the policy and the tests' namespaces removed afterwards."""
    api = cluster.api()
    _remove_all(api)
    st.reset(api, topology="standard", workers=3, **FAST)
    st.label_node(api, "worker-1", {"sandboxed": "yes"})
    yield api
    _remove_all(api)
    st.reset(api, topology="standard", workers=3, **FAST)


def _remove_all(api) -> None:
    clean_up(api)
    vaps = client.AdmissionregistrationV1Api(api)
    for name in VAP_NAMES:
        for delete in (vaps.delete_validating_admission_policy_binding, vaps.delete_validating_admission_policy):
            with suppress(client.ApiException):
                delete(name)


def doctor(ansible, **extra) -> Result:
    return ansible.run("doctor", user="automation", extra_vars=extra)


def findings(r: Result, id_: str) -> list[dict]:
    assert r.report is not None and r.report["operation"] == "doctor", r
    return [f for f in r.report["findings"] if f["id"] == id_]


def stuck(r: Result, id_: str, subject: str) -> dict:
    """The one finding `id_` about `subject`, shown in the output with its evidence and fix; the run failed
    with exit code 2 and the report says unhealthy."""
    assert r.rc == 2, r
    [f] = [f for f in findings(r, id_) if f["subject"] == subject] or [None]
    assert f is not None, r.report["findings"]
    assert f["severity"] == "error" and not r.report["healthy"] and r.report["counts"]["error"] >= 1
    text = r.text.replace("''", "'")  # the yaml callback doubles the quotes of a single-quoted string
    assert f"ERROR {id_} ({subject}): " in text and f"Fix: {' '.join(f['fix'].split())}" in text, r
    return f


def install(ansible, **extra) -> None:
    r = ansible.run("install", extra_vars={**SEL, **extra})
    assert r.rc == 0, r


@contextmanager
def installing(ansible, **extra) -> Iterator[subprocess.Popen]:
    """The install in the background (its own session), killed by its pid at the end."""
    proc = ansible.start("install", extra_vars={**SEL, **extra})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def annotations(api, node: str) -> dict:
    return st.kube(api).get(f"/api/v1/nodes/{node}")["metadata"].get("annotations") or {}


def test_a_healthy_cluster_has_no_finding_and_exits_0(cluster, ansible, clean):
    install(ansible, **POLICY)
    r = doctor(ansible)
    assert r.rc == 0, r
    assert r.report["findings"] == [] and r.report["healthy"] and r.report["counts"] == {"error": 0, "warning": 0}
    assert "No stuck state found." in r.text


def test_a_drain_held_by_a_pod_disruption_budget(cluster, ansible, clean):
    api = clean
    ns = new_namespace(api)
    apps, policy = client.AppsV1Api(api), client.PolicyV1Api(api)
    apps.create_namespaced_deployment(ns, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(node_selector={"kubernetes.io/hostname": "worker-1"}, containers=[
                    client.V1Container(name="c", image="registry.invalid/app:1")])))))
    policy.create_namespaced_pod_disruption_budget(ns, client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1PodDisruptionBudgetSpec(min_available=1, selector=client.V1LabelSelector(
            match_labels={"app": "web"}))))
    core = client.CoreV1Api(api)
    [pod] = st.wait_for(lambda: [p for p in core.list_namespaced_pod(ns).items if p.status.phase == "Running"],
                        60, what="the web pod running on worker-1")
    st.wait_for(lambda: policy.read_namespaced_pod_disruption_budget("web", ns).status.expected_pods == 1, 30,
                what="the budget to count the pod")
    # The install's preflight would refuse this drain (drain_blockers stop): warn lets it run into the held drain.
    with installing(ansible, sandboxed_containers_drain_blockers="warn"):
        st.wait_for(lambda: (annotations(api, "worker-1").get(MCD + "desiredDrain") or "").startswith("drain-"), 60,
                    what="the drain of worker-1")
        r = doctor(ansible)
    f = stuck(r, "drain-held", "node worker-1")
    assert f"pod {ns}/{pod.metadata.name}" in f["evidence"], f
    assert f"PodDisruptionBudget {ns}/web allows no disruption" in f["evidence"], f
    assert f"oc edit pdb -n {ns} web" in f["fix"]


def test_a_degraded_node_with_the_daemons_reason(cluster, ansible, clean):
    api = clean
    st.set_fault(api, "worker-2", "unexpected on-disk state validating against rendered-worker-x: simulated")
    st.wait_for(lambda: annotations(api, "worker-2").get(MCD + "state") == "Degraded", 30, what="worker-2 Degraded")
    f = stuck(doctor(ansible), "node-degraded", "node worker-2")
    assert "is Degraded: unexpected on-disk state validating against rendered-worker-x: simulated" in f["evidence"]
    st.clear_fault(api, "worker-2")


def test_a_node_not_ready_after_its_reboot(cluster, ansible, clean):
    api = clean
    st.crio_fails(api, "worker-1", "simulated: invalid drop-in")
    with installing(ansible):
        st.wait_for(lambda: annotations(api, "worker-1").get(MCD + "post-config-action") == "Rebooting"
                    and _ready(api, "worker-1") != "True", 60, what="worker-1 NotReady in its reboot")
        # A node rebooting for less than the timeout is no finding; past it, one.
        r = doctor(ansible)
        assert findings(r, "node-not-ready-after-reboot") == [], r
        r = doctor(ansible, sandboxed_containers_doctor_reboot_timeout=0)
    f = stuck(r, "node-not-ready-after-reboot", "node worker-1")
    assert "Kubelet stopped posting node status." in f["evidence"] and "journalctl -b -u crio -u kubelet" in f["fix"]
    st.crio_recovers(api, "worker-1")


def _ready(api, node: str) -> str | None:
    conds = st.kube(api).get(f"/api/v1/nodes/{node}")["status"].get("conditions") or []
    return next((c["status"] for c in conds if c["type"] == "Ready"), None)


def test_a_node_in_two_custom_pools(cluster, ansible, clean):
    api = clean
    for name in ("infra-a", "infra-b"):
        st.kube(api).create(MCP_API, st.custom_pool(name))
    st.label_node(api, "worker-0", {"node-role.kubernetes.io/infra-a": "", "node-role.kubernetes.io/infra-b": ""})
    f = stuck(doctor(ansible), "node-in-two-custom-pools", "node worker-0")
    assert "custom pools infra-a, infra-b all match worker-0" in f["evidence"]
    assert "node worker-0 belongs to 2 custom roles, cannot proceed with this Node" in f["evidence"]


def test_a_paused_pool_with_nodes_behind(cluster, ansible, clean):
    api = clean
    st.patch_pool_spec(api, "worker", {"paused": True})
    st.create_mc(api, st.machine_config("99-worker-doctor-test", "worker", files={"/etc/doctor-test": "x"}))
    st.wait_for(lambda: "99-worker-doctor-test" in [s["name"] for s in st.pool(api, "worker")["spec"][
        "configuration"]["source"]], 30, what="the worker pool rendered with the new MachineConfig")
    f = stuck(doctor(ansible), "pool-paused", "pool worker")
    assert "3 of its 3 nodes are not on rendered-worker-" in f["evidence"] and "oc patch mcp/worker" in f["fix"]


def test_a_pod_terminating_on_a_node_without_its_handler(cluster, ansible, clean):
    api = clean
    core = client.CoreV1Api(api)
    ns = new_namespace(api)
    # The RuntimeClass of an earlier installation whose handler is gone from worker-1 (as after an uninstall that
    # left the RuntimeClass); a finalizer keeps the deleted pod in the API, as a kubelet that cannot stop its
    # sandbox through the missing handler does (the simulated kubelet removes deleted pods at once).
    client.NodeV1Api(api).create_runtime_class(client.V1RuntimeClass(metadata=client.V1ObjectMeta(name="kata"),
                                                                     handler="kata"))
    core.create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name="app", finalizers=["sandboxed.containers.test/hold"]),
        spec=client.V1PodSpec(runtime_class_name="kata", node_name="worker-1", containers=[
            client.V1Container(name="c", image="registry.invalid/app:1")])))
    core.delete_namespaced_pod("app", ns, grace_period_seconds=0)
    try:
        st.wait_for(lambda: core.read_namespaced_pod("app", ns).metadata.deletion_timestamp, 30,
                    what="the pod Terminating")
        f = stuck(doctor(ansible), "pod-terminating-without-handler", f"pod {ns}/app")
        assert "node worker-1 does not have the handler kata of RuntimeClass kata" in f["evidence"], f
        assert "finalizers sandboxed.containers.test/hold" in f["evidence"]
        assert f"oc delete pod -n {ns} app --force --grace-period=0" in f["fix"]
    finally:
        core.patch_namespaced_pod("app", ns, {"metadata": {"finalizers": None}})


def test_a_kataconfig_and_what_the_operator_and_kata_deploy_left(cluster, ansible, clean):
    api = clean
    st.reset(api, topology="standard", workers=3, machine_configs=["osc-leftover"], **FAST)
    install_kataconfig_crd(api)
    kc = cluster.dynamic().resources.get(api_version="kataconfiguration.openshift.io/v1", kind="KataConfig")
    kc.create(body={"apiVersion": "kataconfiguration.openshift.io/v1", "kind": "KataConfig",
                    "metadata": {"name": "example-kataconfig"}, "spec": {"checkNodeEligibility": False}})
    st.label_node(api, "worker-2", {"katacontainers.io/kata-runtime": "true"})
    try:
        r = doctor(ansible)
        f = stuck(r, "kataconfig", "KataConfig example-kataconfig")
        assert "the OpenShift sandboxed containers operator manages this cluster" in f["evidence"]
        f = stuck(r, "kata-leftover", "MachineConfig 50-enable-sandboxed-containers-extension")
        assert "oc delete machineconfig 50-enable-sandboxed-containers-extension" in f["fix"]
        f = stuck(r, "kata-leftover", "kata-deploy")
        assert "on nodes worker-2 (label katacontainers.io/kata-runtime)" in f["evidence"]
    finally:
        kc.delete(name="example-kataconfig")


def test_the_policy_not_in_force_after_its_binding_was_deleted(cluster, ansible, clean):
    api = clean
    install(ansible, **POLICY)
    client.AdmissionregistrationV1Api(api).delete_validating_admission_policy_binding(VAP_NAMES[1])
    f = stuck(doctor(ansible), "policy-not-in-force", "admission policy")
    assert f"ValidatingAdmissionPolicyBinding {VAP_NAMES[1]} is missing" in f["evidence"]
    assert "playbooks/policy.yml" in f["fix"]


def test_a_runtime_class_that_selects_nodes_without_the_handler(cluster, ansible, clean):
    api = clean
    install(ansible)
    client.NodeV1Api(api).create_runtime_class(client.V1RuntimeClass(
        metadata=client.V1ObjectMeta(name="kata-workers"), handler="kata",
        scheduling=client.V1Scheduling(node_selector={"node-role.kubernetes.io/worker": ""})))
    f = stuck(doctor(ansible), "runtime-class-without-handler", "RuntimeClass kata-workers")
    assert "onto worker-0, worker-2, which lack the kata handler" in f["evidence"], f
    assert "oc delete runtimeclass kata-workers" in f["fix"]
