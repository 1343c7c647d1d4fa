"""The local control plane is real: each test exercises a behaviour only a real
kube-apiserver, controller-manager or scheduler has."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

MCP = {"api_version": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool"}


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def namespace(cluster):
    core = client.CoreV1Api(cluster.api())
    name = f"cp-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # The ServiceAccount admission plugin needs the namespace's default SA,
    # which the controller-manager creates.
    wait_for(lambda: _has_default_sa(core, name), what="default service account")
    yield name
    core.delete_namespace(name)


def _has_default_sa(core, ns):
    try:
        core.read_namespaced_service_account("default", ns)
        return True
    except ApiException:
        return False


def test_version_is_the_pinned_release(cluster):
    ctx = ssl.create_default_context(cafile=str(cluster.local.pki.ca_cert))
    with urllib.request.urlopen(f"{cluster.local.server}/version", context=ctx) as r:
        v = json.loads(r.read())
    assert v["gitVersion"] == "v1.34.4"
    assert (v["major"], v["minor"]) == ("1", "34")
    assert v["gitTreeState"] == "clean"


def test_pool_crd_rejects_a_pool_without_spec(cluster):
    pools = cluster.dynamic().resources.get(**MCP)
    with pytest.raises(ApiException) as e:
        pools.create(body={"apiVersion": MCP["api_version"], "kind": "MachineConfigPool",
                           "metadata": {"name": "no-spec"}})
    assert e.value.status == 422
    assert "spec: Required value" in json.loads(e.value.body)["message"]


def test_custom_pool_policy_requires_the_worker_role(cluster):
    pools = cluster.dynamic().resources.get(**MCP)
    body = {
        "apiVersion": MCP["api_version"], "kind": "MachineConfigPool",
        "metadata": {"name": "infra-no-worker"},
        "spec": {
            "machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "infra"}},
            "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/infra": ""}},
        },
    }
    with pytest.raises(ApiException) as e:
        pools.create(body=body)
    assert e.value.status == 422
    assert ("All custom MachineConfigPools must inherit from the worker pool and must have a "
            "machineConfigSelector that matches for a 'machineconfiguration.openshift.io/role: worker' "
            "label") in json.loads(e.value.body)["message"]
    # The same pool inheriting from worker is admitted (dry run: nothing is kept).
    body["spec"]["machineConfigSelector"] = {"matchExpressions": [{
        "key": "machineconfiguration.openshift.io/role", "operator": "In", "values": ["worker", "infra"]}]}
    pools.create(body=body, query_params=[("dryRun", "All")])


def test_rbac_refuses_developer_and_allows_admin(cluster):
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(cluster.api("developer")).list_node()
    assert e.value.status == 403
    assert 'User "developer" cannot list resource "nodes"' in json.loads(e.value.body)["message"]
    assert isinstance(client.CoreV1Api(cluster.api("admin")).list_node().items, list)


def test_tenant_is_in_the_kata_users_group(cluster):
    review = client.AuthenticationV1Api(cluster.api("tenant")).create_self_subject_review(
        client.V1SelfSubjectReview())
    info = review.status.user_info
    assert info.username == "tenant"
    assert "kata-users" in info.groups


def test_runtime_class_admission_sets_overhead_and_refuses_missing_class(cluster, namespace):
    node_api = client.NodeV1Api(cluster.api())
    rc_name = f"rc-{uuid.uuid4().hex[:6]}"
    node_api.create_runtime_class(client.V1RuntimeClass(
        metadata=client.V1ObjectMeta(name=rc_name), handler="kata",
        overhead=client.V1Overhead(pod_fixed={"cpu": "250m", "memory": "350Mi"})))
    core = client.CoreV1Api(cluster.api())
    try:
        pod = core.create_namespaced_pod(namespace, _pod("with-overhead", runtime_class=rc_name),
                                         dry_run="All")
        assert pod.spec.overhead == {"cpu": "250m", "memory": "350Mi"}
        with pytest.raises(ApiException) as e:
            core.create_namespaced_pod(namespace, _pod("missing-class", runtime_class="no-such-class"))
        assert e.value.status == 403
        assert 'RuntimeClass "no-such-class" not found' in json.loads(e.value.body)["message"]
    finally:
        node_api.delete_runtime_class(rc_name)


def _pod(name: str, runtime_class: str | None = None, node_selector: dict | None = None,
         tolerations: list | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            runtime_class_name=runtime_class, node_selector=node_selector, tolerations=tolerations,
            containers=[client.V1Container(name="c", image="registry.invalid/pause:3")],
        ),
    )


def test_deployment_gets_a_replicaset_and_pods(cluster, namespace):
    apps = client.AppsV1Api(cluster.api())
    labels = {"app": "web"}
    apps.create_namespaced_deployment(namespace, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.invalid/x")]),
            ),
        ),
    ))
    rs = wait_for(lambda: apps.list_namespaced_replica_set(namespace).items, what="a ReplicaSet")
    assert rs[0].metadata.owner_references[0].kind == "Deployment"
    core = client.CoreV1Api(cluster.api())

    def two_pods():
        p = core.list_namespaced_pod(namespace, label_selector="app=web").items
        return p if len(p) == 2 else None

    pods = wait_for(two_pods, what="2 pods")
    assert {p.metadata.owner_references[0].name for p in pods} == {rs[0].metadata.name}


def test_scheduler_binds_a_pod_once_a_node_fits(cluster, namespace):
    core = client.CoreV1Api(cluster.api())
    key = f"cp-test-{uuid.uuid4().hex[:6]}"
    # Only a node with this label and taint fits, so no other node takes the pod.
    toleration = client.V1Toleration(key=key, operator="Exists", effect="NoSchedule")
    core.create_namespaced_pod(namespace, _pod("waits", node_selector={key: "yes"}, tolerations=[toleration]))
    time.sleep(1.0)
    assert core.read_namespaced_pod("waits", namespace).spec.node_name is None
    node = client.V1Node(
        metadata=client.V1ObjectMeta(name=key, labels={key: "yes", "kubernetes.io/hostname": key}),
        spec=client.V1NodeSpec(taints=[client.V1Taint(key=key, value="", effect="NoSchedule")]),
    )
    core.create_node(node)
    try:
        core.patch_node_status(key, {"status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "test node"}],
        }})
        # The apiserver taints every new node not-ready; with no node lifecycle
        # controller in this cluster, whoever runs the node lifts it once Ready.
        taints = [t for t in core.read_node(key).spec.taints if t.key != "node.kubernetes.io/not-ready"]
        core.patch_node(key, {"spec": {"taints": [t.to_dict() for t in taints]}})
        bound = wait_for(lambda: core.read_namespaced_pod("waits", namespace).spec.node_name,
                         what="the scheduler to bind the pod")
        assert bound == key
    finally:
        core.delete_namespaced_pod("waits", namespace, grace_period_seconds=0)
        core.delete_node(key)


def test_deleted_namespace_goes_away(cluster):
    core = client.CoreV1Api(cluster.api())
    name = f"gone-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm")))
    core.delete_namespace(name)

    def gone():
        try:
            core.read_namespace(name)
        except ApiException as e:
            return e.status == 404
        return False

    wait_for(gone, timeout=60, what=f"namespace {name} to be deleted")


def test_api_server_restart_mid_test(cluster):
    core = client.CoreV1Api(cluster.api())
    name = f"restart-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name), data={"k": "v"}))
    before = cluster.local.pid("kube-apiserver")
    others = {c: cluster.local.pid(c) for c in ("etcd", "kube-controller-manager", "kube-scheduler")}
    cluster.restart("kube-apiserver")
    assert cluster.local.pid("kube-apiserver") not in (None, before)
    assert {c: cluster.local.pid(c) for c in others} == others
    core = client.CoreV1Api(cluster.api())
    assert core.read_namespaced_config_map(name, "default").data == {"k": "v"}
    core.delete_namespaced_config_map(name, "default")
