"""OpenShift's SCC admission as the local cluster emulates it (localcluster/scc.py).

Who creates a pod decides its SCC: cluster-admin may use anyuid (priority 10,
no UID assigned), everyone else gets restricted-v2 (the namespace's first UID).
Pods are created with dryRun, so admission runs and nothing is kept.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from localcluster.scc import FIRST_UID, NAMESPACE_ANNOTATIONS

SCC = "openshift.io/scc"
REQUIRED = "openshift.io/required-scc"


@pytest.fixture
def namespace(cluster) -> Iterator[str]:
    core = client.CoreV1Api(cluster.api())
    name = f"scc-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    deadline = time.monotonic() + 30
    while True:  # the ServiceAccount admission plugin needs the default SA
        try:
            core.read_namespaced_service_account("default", name)
            break
        except ApiException:
            assert time.monotonic() < deadline, "no default service account"
            time.sleep(0.1)
    yield name
    core.delete_namespace(name)


def _pod(annotations: dict | None = None, pod_sc: client.V1PodSecurityContext | None = None,
         container_sc: client.V1SecurityContext | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="p", annotations=annotations),
        spec=client.V1PodSpec(
            security_context=pod_sc,
            init_containers=[client.V1Container(name="init", image="registry.invalid/pause:3")],
            containers=[client.V1Container(name="c", image="registry.invalid/pause:3", security_context=container_sc),
                        client.V1Container(name="d", image="registry.invalid/pause:3")],
        ))


def _create(cluster, user: str, ns: str, pod: client.V1Pod) -> client.V1Pod:
    core = client.CoreV1Api(cluster.api(user))
    deadline = time.monotonic() + 30
    while True:
        try:
            return core.create_namespaced_pod(ns, pod, dry_run="All")
        except ApiException as e:
            # A role binding just made takes a moment to reach the authorizer's cache (RBAC's wording, not
            # admission's, which the tests look at).
            if not (e.status == 403 and "cannot create resource" in (e.body or "") and time.monotonic() < deadline):
                raise
            time.sleep(0.1)


def _uids(pod: client.V1Pod) -> list[tuple[int | None, bool | None]]:
    return [((c.security_context or client.V1SecurityContext()).run_as_user,
             (c.security_context or client.V1SecurityContext()).run_as_non_root)
            for c in (pod.spec.init_containers or []) + pod.spec.containers]


def test_new_namespace_gets_a_uid_range(cluster, namespace):
    ns = client.CoreV1Api(cluster.api()).read_namespace(namespace)
    assert {k: ns.metadata.annotations.get(k) for k in NAMESPACE_ANNOTATIONS} == NAMESPACE_ANNOTATIONS


def test_admin_gets_anyuid_and_no_uid(cluster, namespace):
    pod = _create(cluster, "admin", namespace, _pod())
    assert pod.metadata.annotations[SCC] == "anyuid"
    assert _uids(pod) == [(None, None)] * 3


def test_required_scc_restricted_v2_gets_the_first_uid(cluster, namespace):
    pod = _create(cluster, "admin", namespace, _pod({REQUIRED: "restricted-v2"}))
    assert pod.metadata.annotations[SCC] == "restricted-v2"
    assert _uids(pod) == [(FIRST_UID, True)] * 3


def test_plain_user_gets_restricted_v2(cluster, namespace):
    rbac = client.RbacAuthorizationV1Api(cluster.api())
    rbac.create_namespaced_role(namespace, client.V1Role(
        metadata=client.V1ObjectMeta(name="pods"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["create"])]))
    rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="automation-pods"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="pods"),
        subjects=[client.RbacV1Subject(kind="User", name="automation", api_group="rbac.authorization.k8s.io")]))
    pod = _create(cluster, "automation", namespace, _pod())
    assert pod.metadata.annotations[SCC] == "restricted-v2"
    assert _uids(pod) == [(FIRST_UID, True)] * 3
    # A UID the pod set is kept (out-of-range UIDs are not refused here); runAsNonRoot follows it unless set.
    pod = _create(cluster, "automation", namespace, _pod(
        pod_sc=client.V1PodSecurityContext(run_as_user=1000680005),
        container_sc=client.V1SecurityContext(run_as_non_root=False)))
    assert _uids(pod) == [(None, True), (None, False), (None, True)]


def test_namespace_range_is_used(cluster):
    core = client.CoreV1Api(cluster.api())
    name = f"scc-{uuid.uuid4().hex[:6]}"
    ns = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, annotations={"openshift.io/sa.scc.uid-range": "1000900000/10000"})))
    try:
        assert ns.metadata.annotations["openshift.io/sa.scc.uid-range"] == "1000900000/10000"
        assert ns.metadata.annotations["openshift.io/sa.scc.mcs"] == NAMESPACE_ANNOTATIONS["openshift.io/sa.scc.mcs"]
        deadline = time.monotonic() + 30
        while True:
            try:
                pod = _create(cluster, "admin", name, _pod({REQUIRED: "restricted-v2"}))
                break
            except ApiException as e:  # the default service account is not there yet
                assert e.status == 403 and time.monotonic() < deadline, e
                time.sleep(0.1)
        assert _uids(pod) == [(1000900000, True)] * 3
    finally:
        core.delete_namespace(name)


def test_controller_created_pods_get_restricted_v2(cluster, namespace):
    apps = client.AppsV1Api(cluster.api())
    labels = {"app": "rs"}
    apps.create_namespaced_replica_set(namespace, client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="rs"),
        spec=client.V1ReplicaSetSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.invalid/x")])))))
    core = client.CoreV1Api(cluster.api())
    deadline = time.monotonic() + 30
    while not (pods := core.list_namespaced_pod(namespace, label_selector="app=rs").items):
        assert time.monotonic() < deadline, "the ReplicaSet made no pod"
        time.sleep(0.2)
    # The ReplicaSet controller's identity may not use anyuid.
    assert pods[0].metadata.annotations[SCC] == "restricted-v2"
    assert pods[0].spec.containers[0].security_context.run_as_user == FIRST_UID


def test_the_sccs_and_their_use_grant_exist(cluster):
    dyn = DynamicClient(cluster.api())
    sccs = dyn.resources.get(api_version="security.openshift.io/v1", kind="SecurityContextConstraints")
    anyuid = sccs.get(name="anyuid").to_dict()
    restricted = sccs.get(name="restricted-v2").to_dict()
    assert (anyuid["priority"], anyuid["runAsUser"]["type"], anyuid["groups"]) == (
        10, "RunAsAny", ["system:cluster-admins"])
    assert (restricted.get("priority"), restricted["runAsUser"]["type"]) == (None, "MustRunAsRange")
    crb = client.RbacAuthorizationV1Api(cluster.api()).read_cluster_role_binding("system:openshift:scc:restricted-v2")
    assert [(s.kind, s.name) for s in crb.subjects] == [("Group", "system:authenticated")]
    # Every authenticated user may use restricted-v2; a plain user may not use anyuid.
    review = client.AuthorizationV1Api(cluster.api("developer")).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                group="security.openshift.io", resource="securitycontextconstraints", verb="use",
                name="restricted-v2"))))
    assert review.status.allowed
    review.spec.resource_attributes.name = "anyuid"
    review = client.AuthorizationV1Api(cluster.api("developer")).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(spec=review.spec))
    assert not review.status.allowed
