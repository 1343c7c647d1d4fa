"""The automation's ClusterRole, scoped by name to the collection's own objects (issue 12, item 2).

Every request is made as the real user `automation` of the local API server, bound to nothing but what the
automation_access role creates; what the server refuses is checked in its audit log too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client

from localcluster.bootstrap import install_kataconfig_crd
from sim import testing as st
from sim.kube import ApiError
from support import clean_up

FAST = {"render_delay": 1, "node_update": 0.3}
AUTOMATION = {"kind": "User", "name": "automation"}
SEL = {"sandboxed_containers_node_selector": {"matchLabels": {"sandboxed": "yes"}},
       "sandboxed_containers_policy": {"modes": ["namespaces"]}}
MC_API = "/apis/machineconfiguration.openshift.io/v1"
VAP_API = "/apis/admissionregistration.k8s.io/v1"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
VERIFY_NS = "sandboxed-containers-verify"


def grant(ansible, **extra):
    """automation_access as a cluster administrator, for the user automation, with verify."""
    ev = {"sandboxed_containers_automation_subjects": [AUTOMATION], "sandboxed_containers_automation_verify": True,
          **extra}
    r = ansible.run("automation_access", extra_vars=ev, report=False)
    assert r.rc == 0, r
    return r


def revoke(ansible):
    r = ansible.run("automation_access", extra_vars={"sandboxed_containers_automation_state": "absent"},
                    report=False)
    assert r.rc == 0, r
    return r


def may(api, verb: str, group: str, resource: str, name: str) -> bool:
    """What the authorizer answers for the api's user (a SelfSubjectAccessReview)."""
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            verb=verb, group=group, resource=resource, name=name))))
    return bool(review.status.allowed)


def wait_granted(api, verb: str, group: str, resource: str, name: str, allowed: bool = True) -> None:
    # A new or changed binding takes a moment to reach the authorizer's cache.
    st.wait_for(lambda: may(api, verb, group, resource, name) is allowed, 30,
                what=f"{verb} {resource}/{name} {'granted' if allowed else 'revoked'}")


@pytest.fixture
def bound(cluster, ansible):
    """A fresh cluster and the user automation bound to the shipped role; everything removed afterwards."""
    api = cluster.api()
    clean_up(api)
    _delete_policies(api)
    st.reset(api, topology="standard", workers=3, **FAST)
    st.label_node(api, "worker-1", {"sandboxed": "yes"})
    grant(ansible)
    auto = cluster.api("automation")
    wait_granted(auto, "list", "machineconfiguration.openshift.io", "machineconfigpools", "")
    yield api, auto
    ansible.run("uninstall", extra_vars={"sandboxed_containers_force": True})
    revoke(ansible)
    _delete_policies(api)
    clean_up(api)


def _delete_policies(api) -> None:
    vaps = client.AdmissionregistrationV1Api(api)
    for b in vaps.list_validating_admission_policy_binding().items:
        if b.metadata.name.startswith("sandboxed-containers-"):
            vaps.delete_validating_admission_policy_binding(b.metadata.name)
    for p in vaps.list_validating_admission_policy().items:
        if p.metadata.name.startswith("sandboxed-containers-"):
            vaps.delete_validating_admission_policy(p.metadata.name)


def refused(auto, method: str, path: str, body: dict | None = None, content_type: str | None = None,
            query: dict | None = None) -> int:
    """The status of a request the automation must not be allowed to make."""
    try:
        st.kube(auto).request(method, path, body=body, content_type=content_type, query=query)
    except ApiError as e:
        return e.status
    return 200


def forbidden_in_audit(log: Path, start: int, verb: str, resource: str, name: str) -> bool:
    """Whether the audit log records the automation's request as refused by the authorizer (403)."""
    for line in log.read_text().splitlines()[start:]:
        e = json.loads(line)
        ref = e.get("objectRef") or {}
        if (e["user"]["username"] == "automation" and e["stage"] == "ResponseComplete" and e["verb"] == verb
                and ref.get("resource") == resource and (ref.get("name") or "") == name
                and (e.get("responseStatus") or {}).get("code") == 403
                and (e.get("annotations") or {}).get("authorization.k8s.io/decision") == "forbid"):
            return True
    return False


def used_by(log: Path, user: str, start: int) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) the user called and was allowed, as the API server's audit log records them."""
    used = set()
    for line in log.read_text().splitlines()[start:]:
        e = json.loads(line)
        ref = e.get("objectRef")
        if e["user"]["username"] != user or not ref or e["stage"] != "ResponseComplete":
            continue
        if (e.get("responseStatus") or {}).get("code", 200) == 403:
            continue
        used.add((ref.get("apiGroup", ""), ref["resource"], e["verb"]))
        if e["verb"] == "patch" and e["responseStatus"].get("code") == 201:
            used.add((ref.get("apiGroup", ""), ref["resource"], "create"))  # server-side apply created it
    return used


def granted(api) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) of the ClusterRole as the automation_access role rendered it in the cluster."""
    role = client.RbacAuthorizationV1Api(api).read_cluster_role("sandboxed-containers-automation")
    return {(g, r, v) for rule in role.rules for g in rule.api_groups for r in rule.resources for v in rule.verbs}


# What the playbooks call besides the ClusterRole: verify's pods, in the verify namespace (its Role), and who applies
# the policy (its default verify identity), which every user may ask through system:basic-user.
VERIFY_ONLY = {("", "namespaces", "get"), ("", "pods", "get"), ("", "pods", "create"), ("", "pods", "delete"),
               ("", "events", "list"), ("authentication.k8s.io", "selfsubjectreviews", "create")}


def test_automation_runs_every_playbook_and_is_refused_everything_else(cluster, ansible, bound):
    """Every playbook as the automation, once: each succeeds; the rights they use are exactly the ClusterRole's;
    what the role does not name is refused, and refused in the audit log."""
    admin, auto = bound
    core = client.CoreV1Api(admin)
    # Pods of earlier tests (their namespaces are being deleted) would block the uninstall.
    st.wait_for(lambda: not [p for p in core.list_pod_for_all_namespaces().items if p.spec.runtime_class_name],
                120, what="the earlier tests' sandboxed pods to go")
    # With the KataConfig API served, as on clusters where the operator was ever installed: its list is called (and
    # granted) whichever tests ran before.
    install_kataconfig_crd(admin)
    log = cluster.local.logs / "audit.log"
    start = len(log.read_text().splitlines())
    for playbook in ("install", "status", "upgrade", "verify", "doctor"):
        r = ansible.run(playbook, user="automation", extra_vars=SEL)
        assert r.rc == 0, r.text[-2500:]
    assert client.NodeV1Api(admin).read_runtime_class("kata").metadata.labels[
        "app.kubernetes.io/managed-by"] == "sandboxed.containers"
    # What the role does not name is refused: while the collection's objects exist, others of their kinds.
    core.create_namespaced_secret("kube-system", client.V1Secret(
        metadata=client.V1ObjectMeta(name="sandboxed-test-secret"), string_data={"k": "v"}))
    try:
        probes_start = len(log.read_text().splitlines())
        other_vap = f"{VAP_API}/validatingadmissionpolicies/custom-machine-config-pool-selector"
        probes = [
            # Another ValidatingAdmissionPolicy: the MCO's own guard of custom pools.
            (("PATCH", other_vap, {"metadata": {"labels": {"x": "y"}}}, MERGE), ("patch", "validatingadmissionpolicies",
                                                                                 "custom-machine-config-pool-selector")),
            # The worker pool.
            (("DELETE", f"{MC_API}/machineconfigpools/worker", None, None),
             ("delete", "machineconfigpools", "worker")),
            # The MCO's own MachineConfig, root on every worker.
            (("PATCH", f"{MC_API}/machineconfigs/00-worker", {"spec": {"kernelArguments": ["x=1"]}}, MERGE),
             ("patch", "machineconfigs", "00-worker")),
            # Another RuntimeClass with the handler, created the way the collection creates (server-side apply).
            (("PATCH", "/apis/node.k8s.io/v1/runtimeclasses/other",
              {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "other"},
               "handler": "kata"}, APPLY), ("patch", "runtimeclasses", "other")),
            # A Secret.
            (("GET", "/api/v1/namespaces/kube-system/secrets/sandboxed-test-secret", None, None),
             ("get", "secrets", "sandboxed-test-secret")),
        ]
        for (method, path, body, ctype), (verb, resource, name) in probes:
            query = {"fieldManager": "sandboxed.containers", "force": "true"} if ctype == APPLY else None
            assert refused(auto, method, path, body, ctype, query) == 403, (verb, resource, name)
        # And with a POST, which no resourceNames rule can allow for any name.
        assert refused(auto, "POST", "/apis/node.k8s.io/v1/runtimeclasses",
                       {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "other"},
                        "handler": "kata"}) == 403
        with pytest.raises(client.ApiException) as e:
            client.CoreV1Api(auto).list_namespaced_secret("kube-system")
        assert e.value.status == 403
        # The audit log is written once each response is out: each refusal is waited for there.
        for _request, (verb, resource, name) in probes:
            assert st.wait_for(lambda v=verb, r=resource, n=name: forbidden_in_audit(log, probes_start, v, r, n), 30,
                               what=f"the audit log's 403 for {verb} {resource}/{name}")
        assert st.wait_for(lambda: forbidden_in_audit(log, probes_start, "create", "runtimeclasses", ""), 30,
                           what="the audit log's 403 for create runtimeclasses")
        # Nothing of it happened.
        assert "x" not in (st.kube(admin).get(other_vap)["metadata"].get("labels") or {})
        assert st.pool(admin, "worker")
        assert "x=1" not in (st.kube(admin).get(f"{MC_API}/machineconfigs/00-worker")["spec"].get("kernelArguments")
                             or [])
        assert [rc.metadata.name for rc in client.NodeV1Api(admin).list_runtime_class().items] == ["kata"]
    finally:
        core.delete_namespaced_secret("sandboxed-test-secret", "kube-system")
    r = ansible.run("uninstall", user="automation", extra_vars=SEL)
    assert r.rc == 0, r.text[-2500:]
    assert client.NodeV1Api(admin).list_runtime_class().items == []
    # Least privilege: the rights the five playbooks used are exactly the role's, none missing and none to spare.
    # A last refused request marks the end: once the audit log has it, it has every request made before it.
    assert refused(auto, "GET", "/api/v1/namespaces/kube-system/secrets/sandboxed-test-last") == 403
    st.wait_for(lambda: forbidden_in_audit(log, start, "get", "secrets", "sandboxed-test-last"), 30,
                what="the audit log to record the automation's last request")
    used, want = used_by(log, "automation", start) - VERIFY_ONLY, granted(admin)
    assert used == want, f"called but not in the role: {used - want}; in the role but never called: {want - used}"


def test_the_role_grants_writes_by_name_only(cluster, ansible, bound):
    admin, _auto = bound
    role = client.RbacAuthorizationV1Api(admin).read_cluster_role("sandboxed-containers-automation")
    for rule in role.rules:
        writes = set(rule.verbs) & {"create", "update", "patch", "delete", "deletecollection"}
        if writes and rule.resources != ["nodes"]:  # nodes: their names follow the selector
            assert rule.resource_names, rule
        assert "*" not in rule.verbs + rule.resources + (rule.api_groups or []), rule
    names = {(r, n) for rule in role.rules for r in rule.resources for n in (rule.resource_names or [])
             if "patch" in rule.verbs}
    assert names == {("machineconfigs", "50-sandboxed-containers"), ("machineconfigpools", "kata-oc"),
                     ("runtimeclasses", "kata"),
                     ("validatingadmissionpolicies", "sandboxed-containers-runtime-class"),
                     ("validatingadmissionpolicies", "sandboxed-containers-runtime-class-handler"),
                     ("validatingadmissionpolicybindings", "sandboxed-containers-runtime-class"),
                     ("validatingadmissionpolicybindings", "sandboxed-containers-runtime-class-handler")}
    # Rendered from the chosen names.
    grant(ansible, sandboxed_containers_pool_name="sandboxed-pool", sandboxed_containers_runtime_class_name="sbx")
    role = client.RbacAuthorizationV1Api(admin).read_cluster_role("sandboxed-containers-automation")
    names = {(r, n) for rule in role.rules for r in rule.resources for n in (rule.resource_names or [])
             if "patch" in rule.verbs}
    assert ("machineconfigpools", "sandboxed-pool") in names and ("runtimeclasses", "sbx") in names
    assert ("machineconfigpools", "kata-oc") not in names and ("runtimeclasses", "kata") not in names


def test_a_name_that_is_not_a_dns_label_is_refused_before_any_change(cluster, ansible, bound):
    admin, _auto = bound
    before = client.RbacAuthorizationV1Api(admin).read_cluster_role("sandboxed-containers-automation").rules
    r = ansible.run("automation_access", report=False, extra_vars={
        "sandboxed_containers_automation_subjects": [AUTOMATION],
        "sandboxed_containers_runtime_class_name": 'kata"]\n  - apiGroups: ["*"]'})
    assert r.rc != 0, r
    assert "sandboxed_containers_runtime_class_name" in r.text and "DNS label" in r.text, r
    assert client.RbacAuthorizationV1Api(admin).read_cluster_role("sandboxed-containers-automation").rules == before


def test_a_rename_by_the_automation_removes_the_old_runtime_class(cluster, ansible, bound):
    admin, auto = bound
    r = ansible.run("install", user="automation", extra_vars=SEL)
    assert r.rc == 0, r.text[-2500:]
    # The administrator grants the new name first; the role keeps delete on the collection's old class.
    grant(ansible, sandboxed_containers_runtime_class_name="sandboxed")
    wait_granted(auto, "patch", "node.k8s.io", "runtimeclasses", "sandboxed")
    assert may(auto, "delete", "node.k8s.io", "runtimeclasses", "kata")
    assert not may(auto, "patch", "node.k8s.io", "runtimeclasses", "kata")
    r = ansible.run("install", user="automation",
                    extra_vars={**SEL, "sandboxed_containers_runtime_class_name": "sandboxed"})
    assert r.rc == 0, r.text[-2500:]
    assert [rc.metadata.name for rc in client.NodeV1Api(admin).list_runtime_class().items] == ["sandboxed"]
    r = ansible.run("uninstall", user="automation",
                    extra_vars={**SEL, "sandboxed_containers_runtime_class_name": "sandboxed"})
    assert r.rc == 0, r.text[-2500:]


def test_the_verify_namespace_is_labelled_as_the_collections(cluster, ansible, bound):
    admin, _auto = bound
    labels = client.CoreV1Api(admin).read_namespace(VERIFY_NS).metadata.labels
    assert labels["sandboxed.containers/verify"] == "true"
    assert labels["app.kubernetes.io/managed-by"] == "sandboxed.containers"


def test_the_removal_path_removes_the_role_its_bindings_and_service_accounts(cluster, ansible, bound):
    admin, auto = bound
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    ns = "sandboxed-test-automation"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns,
                                                                          labels={"sandboxed-test": "true"})))
    # A service account that existed before is not the role's to delete.
    core.create_namespaced_service_account(ns, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="theirs")))
    subjects = [AUTOMATION, {"kind": "ServiceAccount", "name": "sandboxed-containers", "namespace": ns},
                {"kind": "ServiceAccount", "name": "theirs", "namespace": ns}]
    grant(ansible, sandboxed_containers_automation_subjects=subjects)
    created = core.read_namespaced_service_account("sandboxed-containers", ns)
    assert created.metadata.labels["app.kubernetes.io/managed-by"] == "sandboxed.containers"
    assert "app.kubernetes.io/managed-by" not in (core.read_namespaced_service_account("theirs", ns).metadata.labels
                                                  or {})
    assert rbac.read_namespaced_role("sandboxed-containers-verify", VERIFY_NS)

    r = revoke(ansible)
    assert r.changed > 0, r
    names = ("sandboxed-containers-automation", "sandboxed-containers-verify")
    assert not [x.metadata.name for x in rbac.list_cluster_role().items if x.metadata.name in names]
    assert not [x.metadata.name for x in rbac.list_cluster_role_binding().items if x.metadata.name in names]
    assert [s.metadata.name for s in core.list_namespaced_service_account(ns).items
            if s.metadata.name != "default"] == ["theirs"]
    # The verify namespace it made goes, with the Role and RoleBinding in it.
    st.wait_for(lambda: not [n for n in core.list_namespace().items if n.metadata.name == VERIFY_NS], 60,
                what="the verify namespace to go")
    wait_granted(auto, "list", "machineconfiguration.openshift.io", "machineconfigpools", "", allowed=False)
    assert refused(auto, "GET", f"{MC_API}/machineconfigpools") == 403
    r = revoke(ansible)
    assert r.changed == 0, r  # idempotent
