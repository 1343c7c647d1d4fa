"""Who may run sandboxed workloads (admission policy), least privilege for the automation, no secrets in output.

Every request is made as a real identity of the local API server (admin, automation, developer, tenant).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from sim import testing as st
from support import clean_up, delete_namespace, namespace_creator, new_namespace

FAST = {"render_delay": 1, "node_update": 0.3}
ALLOWED = "sandboxed-containers.openshift.io/allowed"
REQUIRED = "sandboxed-containers.openshift.io/required"
KINDS = ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController")
PATHS = {
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "ReplicationController": "/api/v1/namespaces/{ns}/replicationcontrollers",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs",
}


def workload(kind: str, name: str, runtime_class: str | None = "kata") -> dict:
    labels = {"app": name}
    pod_spec = {"containers": [{"name": "c", "image": "registry.invalid/app:1"}]}
    if runtime_class:
        pod_spec["runtimeClassName"] = runtime_class
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    api = {"Pod": "v1", "ReplicationController": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    obj = {"apiVersion": api, "kind": kind, "metadata": {"name": name}}
    if kind == "Pod":
        obj["spec"] = pod_spec
    elif kind == "ReplicationController":
        obj["spec"] = {"selector": labels, "template": template}
    elif kind == "Job":
        obj["spec"] = {"template": {**template, "spec": {**pod_spec, "restartPolicy": "Never"}}}
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {
            "template": {**template, "spec": {**pod_spec, "restartPolicy": "Never"}}}}}
    else:
        obj["spec"] = {"selector": {"matchLabels": labels}, "template": template}
        if kind == "StatefulSet":
            obj["spec"]["serviceName"] = name
    return obj


def create(api, ns: str, obj: dict, *, dry_run: bool = True, as_user: str | None = None,
           as_group: str | None = None) -> tuple[int, str, list[str]]:
    """POSTs an object as the api's user, or as the user (and group) it impersonates: (status, message of a
    refusal, warnings)."""
    k = st.kube(api)
    query = [("dryRun", "All")] if dry_run else []
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if as_user:
        # Raw UTF-8 bytes: the API server takes any octets in a header value (Go's net/http allows obs-text).
        headers["Impersonate-User"] = as_user.encode()
        if as_group:
            headers["Impersonate-Group"] = as_group.encode()
    method, url, headers, body, _post_params = k.api.param_serialize(
        "POST", PATHS[obj["kind"]].format(ns=ns), query_params=query, header_params=headers, body=obj,
        auth_settings=["BearerToken"])
    resp = k.api.rest_client.request(method, url, headers=headers, body=body)
    data = json.loads(resp.read() or b"{}")
    warnings = resp.response.headers.getlist("Warning")
    return resp.status, data.get("message", "") if resp.status >= 400 else "", warnings


@pytest.fixture(scope="module")
def installed(cluster, ansible):
    api = cluster.api()
    for rc in client.NodeV1Api(api).list_runtime_class().items:
        client.NodeV1Api(api).delete_runtime_class(rc.metadata.name)
    st.reset(api, topology="standard", workers=3, **FAST)
    r = ansible.run("install")
    assert r.rc == 0, r
    yield api
    ansible.run("policy", extra_vars={"sandboxed_containers_policy": {"modes": []}})
    clean_up(api)  # the RuntimeClass too: the next file on this cluster (pytest-xdist) may be the simulator's


def namespace_for(api, users: list[str], labels: dict | None = None, groups: tuple[str, ...] = ()) -> str:
    ns = new_namespace(api)
    core = client.CoreV1Api(api)
    if labels:
        core.patch_namespace(ns, {"metadata": {"labels": labels}})
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role_binding(ns, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="edit"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"),
        subjects=[client.RbacV1Subject(kind=kind, name=n, api_group="rbac.authorization.k8s.io")
                  for kind, names in (("User", users), ("Group", groups)) for n in names]))
    return ns


def apply_policy(ansible, api, policy: dict, probe) -> None:
    """Installs the policy, then waits until the API server enforces it (its informers take a moment)."""
    r = ansible.run("policy", extra_vars={"sandboxed_containers_policy": policy})
    assert r.rc == 0, r
    st.wait_for(probe, 30, what="the policy to take effect")


def wait_rbac(api, ns):
    # The aggregated edit role and the new binding take a moment to reach the authorizer's cache.
    st.wait_for(lambda: create(api, ns, workload("Pod", "probe", None))[0] == 201, 30, what="RBAC")


def test_namespaces_mode(cluster, ansible, installed):
    admin = installed
    allowed = namespace_for(admin, ["tenant"], {ALLOWED: "true"})
    listed = namespace_for(admin, ["tenant"])
    other = namespace_for(admin, ["tenant"])
    tenant = cluster.api("tenant")
    for ns in (allowed, listed, other):
        wait_rbac(tenant, ns)
    apply_policy(ansible, admin, {"modes": ["namespaces"], "allowed_namespaces": [listed]},
                 lambda: "namespaces rule" in create(tenant, other, workload("Pod", "p"))[1])
    for kind in KINDS:
        assert create(tenant, allowed, workload(kind, "ok"))[0] == 201, kind
        assert create(tenant, listed, workload(kind, "ok"))[0] == 201, kind
        status, message, _warnings = create(tenant, other, workload(kind, "no"))
        assert status == 403, kind
        assert (f"sandboxed-containers namespaces rule: namespace {other} may not run pods with runtime class kata; "
                f"ask a cluster administrator to label the namespace {ALLOWED}=true") in message, message
        assert create(tenant, other, workload(kind, "runc", None))[0] == 201, kind  # runc pods are not affected


def test_users_mode_and_a_controller_made_deployment(cluster, ansible, installed):
    admin = installed
    ns = namespace_for(admin, ["tenant", "developer"])
    tenant, developer = cluster.api("tenant"), cluster.api("developer")
    wait_rbac(tenant, ns)
    wait_rbac(developer, ns)
    apply_policy(ansible, admin, {"modes": ["users"], "allowed_groups": ["kata-users"]},
                 lambda: "users rule" in create(developer, ns, workload("Pod", "p"))[1])
    for kind in KINDS:
        assert create(tenant, ns, workload(kind, "ok"))[0] == 201, kind  # tenant is in group kata-users
        status, message, _warnings = create(developer, ns, workload(kind, "no"))
        assert status == 403, kind
        assert ("sandboxed-containers users rule: developer may not create or update workloads with runtime class "
                "kata; ask a cluster administrator to add you to sandboxed_containers_policy.allowed_users or "
                "allowed_groups") in message, message
    # The tenant's Deployment really runs: its pods are created by the ReplicaSet controller.
    assert create(tenant, ns, workload("Deployment", "web"), dry_run=False)[0] == 201
    core = client.CoreV1Api(admin)
    pods = st.wait_for(lambda: [p for p in core.list_namespaced_pod(ns, label_selector="app=web").items
                                if p.status.phase == "Running"], 60, what="the deployment's pod running")
    assert pods[0].spec.runtime_class_name == "kata"


def test_require_mode(cluster, ansible, installed):
    admin = installed
    ns = namespace_for(admin, ["developer"], {REQUIRED: "true"})
    free = namespace_for(admin, ["developer"])
    developer = cluster.api("developer")
    wait_rbac(developer, free)
    wait_rbac(developer, ns)
    apply_policy(ansible, admin, {"modes": ["require"]},
                 lambda: "require rule" in create(developer, ns, workload("Pod", "p", None))[1])
    for kind in KINDS:
        assert create(developer, ns, workload(kind, "sandboxed"))[0] == 201, kind
        status, message, _warnings = create(developer, ns, workload(kind, "native", None))
        assert status == 403, kind
        assert (f"sandboxed-containers require rule: namespace {ns} runs only sandboxed pods; set runtimeClassName: "
                "kata in the pod spec") in message, message
        assert create(developer, free, workload(kind, "native", None))[0] == 201, kind


def test_warn_lets_requests_through_with_the_warning(cluster, ansible, installed):
    admin = installed
    ns = namespace_for(admin, ["developer"])
    developer = cluster.api("developer")
    wait_rbac(developer, ns)
    apply_policy(ansible, admin, {"modes": ["namespaces"], "validation_actions": ["Warn"]},
                 lambda: create(developer, ns, workload("Pod", "p"))[2])
    for kind in KINDS:
        status, _message, warnings = create(developer, ns, workload(kind, "warned"))
        assert status == 201, kind
        assert any("sandboxed-containers namespaces rule" in w for w in warnings), (kind, warnings)


def test_audit_lets_requests_through_and_records_them(cluster, ansible, installed):
    admin = installed
    ns = namespace_for(admin, ["developer"])
    developer = cluster.api("developer")
    wait_rbac(developer, ns)
    log = cluster.local.logs / "audit.log"
    apply_policy(ansible, admin, {"modes": ["namespaces"], "validation_actions": ["Audit"]},
                 lambda: audited(log, ns, "probe-" + str(int(time.monotonic() * 1000)), developer))
    status, _message, warnings = create(developer, ns, workload("Deployment", "audited"))
    assert status == 201 and not warnings
    assert st.wait_for(lambda: failures_in_audit(log, ns, "audited"), 10, what="the audit annotation")


def audited(log: Path, ns: str, name: str, api) -> bool:
    assert create(api, ns, workload("Pod", name))[0] == 201
    time.sleep(0.2)
    return failures_in_audit(log, ns, name)


def failures_in_audit(log: Path, ns: str, name: str) -> bool:
    for line in log.read_text().splitlines()[-2000:]:
        e = json.loads(line)
        ref = e.get("objectRef") or {}
        if ref.get("namespace") == ns and ref.get("name") == name and \
                "sandboxed-containers-runtime-class" in (e.get("annotations") or {}).get(
                    "validation.policy.admission.k8s.io/validation_failure", ""):
            return True
    return False


# -- no way around the policy (issue 12) ------------------------------------------------------------------

VERIFY_NS = "sandboxed-containers-verify"
VERIFY_LABEL = "sandboxed.containers/verify"
SELF_PROVISIONER = "sandboxed-test-self-provisioner"


@pytest.fixture
def self_provisioner(cluster, installed):
    """Lets tenant create namespaces the way OpenShift's project requests let every user: a namespace without
    labels (a ProjectRequest has none), with admin in it for the requester (the default project template)."""
    admin = installed
    rbac = client.RbacAuthorizationV1Api(admin)
    tenant = cluster.api("tenant")
    created: list[str] = []

    def request_project(name: str) -> str:
        core = client.CoreV1Api(admin)
        st.wait_for(lambda: _gone(core, name), 120, what=f"namespace {name} gone")
        st.wait_for(lambda: _created_by(tenant, name), 30, what="the tenant's namespace create right")
        created.append(name)
        rbac.create_namespaced_role_binding(name, client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="admin"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="admin"),
            subjects=[client.RbacV1Subject(kind="User", name="tenant", api_group="rbac.authorization.k8s.io")]))
        wait_rbac(tenant, name)
        return name

    with namespace_creator(admin, "tenant", SELF_PROVISIONER):
        yield request_project
    for name in created:
        delete_namespace(client.CoreV1Api(admin), name)


def _gone(core, name: str) -> bool:
    try:
        core.read_namespace(name)
    except client.ApiException as e:
        return e.status == 404
    delete_namespace(core, name)
    return False


def _created_by(api, name: str) -> bool:
    try:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except client.ApiException as e:
        if e.status == 403:
            return False  # the binding has not reached the authorizer's cache yet
        raise
    return True


def test_a_tenant_who_creates_the_verify_namespace_cannot_run_sandboxed_pods_there(
        cluster, ansible, installed, self_provisioner):
    admin = installed
    tenant = cluster.api("tenant")
    squatted = self_provisioner(VERIFY_NS)
    other = namespace_for(admin, ["tenant", "admin"])
    wait_rbac(tenant, other)
    # Each rule on its own, then both: tenant is not allowed by either (its group kata-users is not listed).
    for policy, rule in (({"modes": ["namespaces"]}, "namespaces rule"),
                         ({"modes": ["users"], "allowed_users": ["alice"]}, "users rule"),
                         ({"modes": ["namespaces", "users"], "allowed_users": ["alice"]}, "namespaces rule")):
        apply_policy(ansible, admin, policy, lambda r=rule: r in create(tenant, other, workload("Pod", "p"))[1])
        status, message, _warnings = create(tenant, squatted, workload("Pod", "squatter"))
        assert status == 403 and rule in message, (policy, status, message)
    # Even where a tenant could set the label (plain Kubernetes with a namespace-creating tenancy), the exemption
    # is for the verify identity only: by default who applied the policy, here admin.
    client.CoreV1Api(admin).patch_namespace(squatted, {"metadata": {"labels": {VERIFY_LABEL: "true"}}})
    for policy, rule in (({"modes": ["namespaces"]}, "namespaces rule"),
                         ({"modes": ["users"], "allowed_users": ["alice"]}, "users rule")):
        # Until the API server's admission uses the policy just applied (the rule that denies names it): before,
        # the previous one could still answer the requests below.
        apply_policy(ansible, admin, policy, lambda r=rule: r in create(tenant, other, workload("Pod", "p"))[1])
        status, message, _warnings = create(tenant, squatted, workload("Pod", "squatter"))
        assert status == 403, (policy, status, message)
        assert create(admin, squatted, workload("Pod", "verify"))[0] == 201, policy  # the verify identity
        assert create(admin, squatted, workload("Deployment", "verify"))[0] == 403, policy  # pods only
    status, message, _warnings = create(admin, other, workload("Pod", "verify"))  # the identity without the label
    assert status == 403 and "users rule: admin may not" in message, message
    vap = client.AdmissionregistrationV1Api(admin).read_validating_admission_policy(
        "sandboxed-containers-runtime-class")
    assert VERIFY_NS not in json.dumps(vap.spec.to_dict())  # no exemption by name


def test_an_allowed_namespace_that_does_not_exist_is_warned_about(cluster, ansible, installed):
    admin = installed
    missing = "sandboxed-test-not-yet"
    present = namespace_for(admin, [])
    r = ansible.run("policy", extra_vars={"sandboxed_containers_policy": {
        "modes": ["namespaces"], "allowed_namespaces": [present, missing]}})
    assert r.rc == 0, r
    assert (f"sandboxed_containers_policy.allowed_namespaces: the namespace {missing} does not exist; whoever "
            "creates it may run sandboxed pods there") in r.text, r
    assert f"the namespace {present} does not exist" not in r.text, r
    r = ansible.run("status")
    assert r.rc == 0, r
    assert r.report["policy"]["missing_namespaces"] == [missing]
    assert f"the namespace {missing} does not exist" in r.text


def test_every_runtime_class_with_the_handler_is_gated(cluster, ansible, installed):
    admin = installed
    node = client.NodeV1Api(admin)
    node.create_runtime_class(client.V1RuntimeClass(metadata=client.V1ObjectMeta(name="kata-second"), handler="kata"))
    node.create_runtime_class(client.V1RuntimeClass(metadata=client.V1ObjectMeta(name="plain"), handler="runc"))
    try:
        ns = namespace_for(admin, ["developer"])
        developer = cluster.api("developer")
        wait_rbac(developer, ns)
        apply_policy(ansible, admin, {"modes": ["namespaces", "users"], "allowed_groups": ["kata-users"]},
                     lambda: "rule" in create(developer, ns, workload("Pod", "p", "kata-second"))[1])
        for kind in KINDS:
            status, message, _warnings = create(developer, ns, workload(kind, "no", "kata-second"))
            assert status == 403, kind
            assert (f"sandboxed-containers namespaces rule: namespace {ns} may not run pods with runtime class "
                    "kata-second; ask a cluster administrator") in message, message
            assert create(developer, ns, workload(kind, "runc", "plain"))[0] == 201, kind  # another handler
        # One made after the policy is gated as soon as the API server's informer sees it.
        node.create_runtime_class(client.V1RuntimeClass(metadata=client.V1ObjectMeta(name="kata-third"),
                                                        handler="kata"))
        st.wait_for(lambda: create(developer, ns, workload("Pod", "p", "kata-third"))[0] == 403, 30,
                    what="kata-third gated")
        status, message, _warnings = create(developer, ns, workload("Deployment", "no", "kata-third"))
        assert status == 403 and "runtime class kata-third" in message, message
        r = ansible.run("status")
        assert r.rc == 0, r
        assert r.report["other_runtime_classes"] == ["kata-second", "kata-third"]
        assert "RuntimeClass kata-second also has the handler kata" in r.text, r
    finally:
        for name in ("kata-second", "kata-third", "plain"):
            with contextlib.suppress(client.ApiException):
                node.delete_runtime_class(name)


ODD_USER = "o'brien\\\"\\x"  # a quote, a double quote and a backslash
ODD_GROUP = "\U0001f512-admins"  # outside the Basic Multilingual Plane


def test_values_placed_in_cel_are_escaped_or_refused_before_any_change(cluster, ansible, installed):
    admin = installed
    log = cluster.local.logs / "audit.log"
    start = len(log.read_text().splitlines())
    # The policy-only playbook checks the runtime class name too (the install's preflight is not run there).
    r = ansible.run("policy", extra_vars={"sandboxed_containers_runtime_class_name": "ka'ta\\" + '"',
                                          "sandboxed_containers_policy": {"modes": ["namespaces"]}})
    assert r.rc != 0, r
    assert "sandboxed_containers_runtime_class_name" in r.text and "must be a DNS subdomain" in r.text, r
    assert "Nothing was changed" in r.text, r
    r = ansible.run("policy", extra_vars={"sandboxed_containers_handler": "ka[ta]",
                                          "sandboxed_containers_policy": {"modes": ["namespaces"]}})
    assert r.rc != 0 and "sandboxed_containers_handler" in r.text and "must be a DNS label" in r.text, r
    assert writes(log, start) == []
    # Quotes, backslashes and characters outside the BMP in users and groups: the API server accepts the policy,
    # and it lets exactly them through.
    ns = namespace_for(admin, ["developer", ODD_USER, "bob"], groups=(ODD_GROUP,))
    developer = cluster.api("developer")
    wait_rbac(developer, ns)
    apply_policy(ansible, admin, {"modes": ["users"], "allowed_users": [ODD_USER], "allowed_groups": [ODD_GROUP]},
                 lambda: "users rule" in create(developer, ns, workload("Pod", "p"))[1])
    vap = client.AdmissionregistrationV1Api(admin).read_validating_admission_policy(
        "sandboxed-containers-runtime-class")
    assert not ((vap.status.type_checking if vap.status else None) or client.V1TypeChecking()).expression_warnings
    assert st.wait_for(lambda: create(admin, ns, workload("Pod", "odd"), as_user=ODD_USER)[0] == 201, 30,
                       what="the odd user's pod admitted")
    assert create(admin, ns, workload("Pod", "grouped"), as_user="bob", as_group=ODD_GROUP)[0] == 201
    status, message, _warnings = create(admin, ns, workload("Pod", "bob"), as_user="bob")
    assert status == 403 and "users rule: bob may not" in message, message


def test_a_policy_deleted_by_hand_is_restored_and_status_shows_it(cluster, ansible, installed):
    admin = installed
    vaps = client.AdmissionregistrationV1Api(admin)
    r = ansible.run("install", extra_vars={"sandboxed_containers_policy": {
        "modes": ["namespaces", "users"], "allowed_groups": ["kata-users"], "validation_actions": ["Deny", "Audit"]}})
    assert r.rc == 0, r
    names = ("sandboxed-containers-runtime-class", "sandboxed-containers-runtime-class-handler")

    def present() -> dict[str, bool]:
        return {f"{kind} {n}": any(o.metadata.name == n for o in list_()) for n in names for kind, list_ in (
            ("policy", lambda: vaps.list_validating_admission_policy().items),
            ("binding", lambda: vaps.list_validating_admission_policy_binding().items))}

    assert all(present().values()), present()
    r = ansible.run("status")
    policy = r.report["policy"]
    assert (policy["modes"], policy["validation_actions"], policy["in_force"]) == (
        ["namespaces", "users"], ["Deny", "Audit"], True), policy
    # The binding deleted by hand: status says so, and an install without a policy restores it.
    vaps.delete_validating_admission_policy_binding("sandboxed-containers-runtime-class")
    r = ansible.run("status")
    assert r.rc == 0 and r.report["policy"]["in_force"] is False, r.report["policy"]
    assert ("the admission policy is not in force: ValidatingAdmissionPolicyBinding "
            "sandboxed-containers-runtime-class is missing") in r.text, r
    r = ansible.run("install")
    assert r.rc == 0, r
    assert all(present().values()), present()
    # Every policy object deleted: restored by an upgrade, from the record on the RuntimeClass.
    for n in names:
        vaps.delete_validating_admission_policy_binding(n)
        vaps.delete_validating_admission_policy(n)
    r = ansible.run("upgrade")
    assert r.rc == 0, r
    assert all(present().values()), present()
    r = ansible.run("status")
    policy = r.report["policy"]
    assert (policy["modes"], policy["validation_actions"], policy["in_force"]) == (
        ["namespaces", "users"], ["Deny", "Audit"], True), policy
    apply_policy(ansible, admin, {"modes": []}, lambda: True)
    assert not any(present().values()), present()
    r = ansible.run("install")  # no policy recorded any more: none restored
    assert r.rc == 0 and not any(present().values()), present()


def test_a_replication_controller_is_checked_and_its_pods_admitted(cluster, ansible, installed):
    admin = installed
    ns = namespace_for(admin, ["tenant", "developer"])
    tenant, developer = cluster.api("tenant"), cluster.api("developer")
    wait_rbac(tenant, ns)
    wait_rbac(developer, ns)
    apply_policy(ansible, admin, {"modes": ["users"], "allowed_groups": ["kata-users"]},
                 lambda: "users rule" in create(developer, ns, workload("Pod", "p"))[1])
    status, message, _warnings = create(developer, ns, workload("ReplicationController", "no"), dry_run=False)
    assert status == 403 and "users rule: developer may not" in message, message
    # The tenant's ReplicationController really runs: its pods are created by kube-controller-manager's
    # replication controller.
    assert create(tenant, ns, workload("ReplicationController", "rc"), dry_run=False)[0] == 201
    core = client.CoreV1Api(admin)
    pods = st.wait_for(lambda: [p for p in core.list_namespaced_pod(ns, label_selector="app=rc").items
                                if p.status.phase == "Running"], 60, what="the replication controller's pod running")
    assert pods[0].spec.runtime_class_name == "kata"


def test_uninstall_removes_the_policy_and_upgrade_updates_it(cluster, ansible, installed):
    admin = installed
    apply_policy(ansible, admin, {"modes": ["require"]}, lambda: True)  # only its objects matter here
    vaps = client.AdmissionregistrationV1Api(admin)
    k = st.kube(admin)
    k.merge_patch("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/"
                  "sandboxed-containers-runtime-class",
                  {"metadata": {"annotations": {"sandboxed.containers/version": "0.9.0"}}})
    r = ansible.run("upgrade")  # no policy given: the installed one is kept and rebuilt
    assert r.rc == 0, r
    vap = vaps.read_validating_admission_policy("sandboxed-containers-runtime-class")
    assert vap.metadata.annotations["sandboxed.containers/version"] == "1.0.0"
    assert "require rule" in vap.spec.validations[0].message_expression
    r = ansible.run("uninstall", extra_vars={"sandboxed_containers_force": True})  # earlier tests' pods
    assert r.rc == 0, r
    assert [p.metadata.name for p in vaps.list_validating_admission_policy().items
            if p.metadata.name.startswith("sandboxed-containers-")] == []
    assert [b.metadata.name for b in vaps.list_validating_admission_policy_binding().items
            if b.metadata.name.startswith("sandboxed-containers-")] == []
    assert ansible.run("install").rc == 0  # leave it installed for the next tests of this module


def writes(log: Path, start: int, user: str = "admin") -> list[tuple[str, str]]:
    """(resource, name) of each of the user's successful creates, patches and updates, not dry runs, in order."""
    out = []
    for line in log.read_text().splitlines()[start:]:
        e = json.loads(line)
        ref = e.get("objectRef") or {}
        if (e["user"]["username"] == user and e["stage"] == "ResponseComplete"
                and e["verb"] in ("create", "patch", "update")
                and "dryRun" not in e["requestURI"] and (e.get("responseStatus") or {}).get("code", 0) < 300):
            out.append((ref.get("resource", ""), ref.get("name", "")))
    return out


def test_the_policy_is_in_force_before_the_runtime_class_exists(cluster, ansible, installed):
    admin = installed
    r = ansible.run("uninstall", extra_vars={"sandboxed_containers_force": True})  # earlier tests' pods
    assert r.rc == 0, r
    log = cluster.local.logs / "audit.log"
    start = len(log.read_text().splitlines())
    r = ansible.run("install", extra_vars={"sandboxed_containers_policy": {"modes": ["namespaces"]}})
    assert r.rc == 0, r
    ours = ("validatingadmissionpolicies", "runtimeclasses", "machineconfigs")
    order = [w for w in writes(log, start) if w[0] in ours]
    assert order[0] == ("machineconfigs", "50-sandboxed-containers"), order  # the rollout starts first
    policy = order.index(("validatingadmissionpolicies", "sandboxed-containers-runtime-class"))
    runtime_class = order.index(("runtimeclasses", "kata"))
    assert policy < runtime_class, order
    apply_policy(ansible, admin, {"modes": []}, lambda: True)


def test_a_mistake_in_the_policy_stops_the_install_before_anything_changes(cluster, ansible, installed):
    admin = installed
    log = cluster.local.logs / "audit.log"
    start = len(log.read_text().splitlines())
    # A new overhead would change the RuntimeClass: the policy's mistake must stop the run before that.
    r = ansible.run("install", extra_vars={"sandboxed_containers_policy": {"modes": ["namespace"]},
                                           "sandboxed_containers_overhead": {"cpu": "300m", "memory": "400Mi"}})
    assert r.rc != 0, r
    assert "sandboxed_containers_policy.modes ['namespace'] are not modes; use any of " \
        "['namespaces', 'users', 'require']. Nothing was changed." in r.text, r
    assert "Check the cluster and the settings, and plan (changes nothing)" in r.output, r
    assert writes(log, start) == []
    rc = client.NodeV1Api(admin).read_runtime_class("kata")
    assert rc.overhead.pod_fixed == {"cpu": "250m", "memory": "350Mi"}
    r = ansible.run("install", extra_vars={"sandboxed_containers_policy": {"modes": ["namespaces"], "roles": ["x"]}})
    assert r.rc != 0 and "policy.roles" in r.text and writes(log, start) == [], r


# -- credentials ----------------------------------------------------------------------------------------------
# What the automation may do, and that it may do nothing else, is in test_automation_rbac.py.

@pytest.fixture
def automation(cluster, ansible, installed):
    """The user automation bound to the collection's ClusterRole, as an administrator grants it with
    playbooks/automation_access.yml; the grant removed afterwards."""
    r = ansible.run("automation_access", report=False, extra_vars={
        "sandboxed_containers_automation_subjects": [{"kind": "User", "name": "automation"}]})
    assert r.rc == 0, r
    auto = cluster.api("automation")
    st.wait_for(lambda: _can_list_pools(auto), 30, what="the binding to take effect")
    yield auto
    r = ansible.run("automation_access", report=False,
                    extra_vars={"sandboxed_containers_automation_state": "absent"})
    assert r.rc == 0, r


def _can_list_pools(api) -> bool:
    try:
        st.kube(api).get("/apis/machineconfiguration.openshift.io/v1/machineconfigpools")
        return True
    except Exception:
        return False


def test_no_token_or_kubeconfig_content_in_output(cluster, ansible, installed, automation):
    kubeconfig = yaml.safe_load(cluster.users["automation"].read_text())
    token = kubeconfig["users"][0]["user"]["token"]
    ca = kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
    admin_kc = yaml.safe_load(cluster.users["admin"].read_text())
    secrets = [token, ca, admin_kc["users"][0]["user"]["client-key-data"]]
    ca_file = cluster.local.pki.ca_cert
    # A bearer token through the environment, as AWX's OpenShift credential injects it.
    r = ansible.run("install", user="automation", verbosity=3, env={
        "K8S_AUTH_KUBECONFIG": "", "K8S_AUTH_HOST": kubeconfig["clusters"][0]["cluster"]["server"],
        "K8S_AUTH_API_KEY": token, "K8S_AUTH_SSL_CA_CERT": str(ca_file)})
    assert r.rc == 0, r
    # The same token as a playbook variable, through module_defaults.
    r2 = ansible.run("status", user="automation", verbosity=3, env={"K8S_AUTH_KUBECONFIG": ""}, extra_vars={
        "sandboxed_containers_api_host": kubeconfig["clusters"][0]["cluster"]["server"],
        "sandboxed_containers_api_key": token, "sandboxed_containers_ca_cert": str(ca_file)})
    assert r2.rc == 0, r2
    # And a kubeconfig with a client key.
    r3 = ansible.run("status", verbosity=3)
    assert r3.rc == 0, r3
    for result in (r, r2, r3):
        text = result.output + json.dumps(result.report)
        for secret in secrets:
            assert secret not in text
