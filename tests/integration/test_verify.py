"""playbooks/verify.yml against the local cluster: it proves each node runs sandboxed pods in a VM, with hardened
pods in a namespace of its own, and refuses a namespace someone else made.

The simulated kubelet serves pods/log through the API server (tests/cluster/sim/kubelet_api.py): a pod of a VM
handler prints a guest kernel (the node's release, a boot ID of its own), a runc pod the node's kernel, and the
node annotation sim.sandboxed.containers/runs-native makes a "kata" handler run pods on the node's kernel.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from playbook import VERIFY_IMAGE
from sim import testing as st
from support import clean_up, delete_namespace, kata_pods, namespace_creator, workers_of

FAST = {"render_delay": 1, "node_update": 0.3}
NS = "sandboxed-containers-verify"
OWN_LABELS = {"sandboxed.containers/verify": "true", "app.kubernetes.io/managed-by": "sandboxed.containers"}
RESTRICTED = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")}
SELF_PROVISIONER = "test-verify-self-provisioner"


@pytest.fixture(scope="module")
def installed(cluster, ansible):
    api = cluster.api()
    clean_up(api)
    _delete_namespace(api)
    st.reset(api, topology="standard", workers=3, **FAST)
    r = ansible.run("install")
    assert r.rc == 0, r.text[-3000:]
    yield api
    _delete_namespace(api)
    clean_up(api)  # the RuntimeClass too: the next file on this cluster may be the simulator's


@pytest.fixture
def api(installed):
    """The installed cluster, with no verify namespace and no fault left by the previous test."""
    _delete_namespace(installed)
    for n in workers_of(installed):
        st.runs_in_vm(installed, n)
    yield installed
    for n in workers_of(installed):
        st.runs_in_vm(installed, n)


def _delete_namespace(api) -> None:
    core = client.CoreV1Api(api)
    delete_namespace(core, NS)
    st.wait_for(lambda: NS not in {n.metadata.name for n in core.list_namespace().items}, 60,
                what=f"namespace {NS} gone")


class Watcher:
    """Records the verify pods and the namespace as they appear while a playbook runs: a WATCH from the version of
    a first LIST, so a pod that lives for less than any polling interval is seen too (it is created, run, read and
    deleted within a second on the simulated kubelets)."""

    def __init__(self, api) -> None:
        self.core = client.CoreV1Api(api)
        self.pods: dict[str, client.V1Pod] = {}
        self.namespace: client.V1Namespace | None = None
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _pod(self, obj: client.V1Pod) -> None:
        self.pods.setdefault(obj.metadata.name, obj)

    def _namespace(self, obj: client.V1Namespace) -> None:
        self.namespace = self.namespace or obj

    def _watch(self, list_call, kwargs: dict, record, version: str) -> None:
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(list_call, resource_version=version, timeout_seconds=1, **kwargs):
                    if event["type"] == "ERROR":
                        raise RuntimeError(str(event["raw_object"]))
                    record(event["object"])
                    version = event["object"].metadata.resource_version
            except Exception as e:  # an expired version would lose events: the test fails on it below
                self.errors.append(f"{list_call.__name__}: {e}")
                return

    def __enter__(self) -> Watcher:
        # Listed before the playbook starts, each watch from its list's version: nothing it does is missed.
        for list_call, kwargs, record in (
                (self.core.list_pod_for_all_namespaces, {"field_selector": f"metadata.namespace={NS}"}, self._pod),
                (self.core.list_namespace, {"field_selector": f"metadata.name={NS}"}, self._namespace)):
            first = list_call(**kwargs)
            for obj in first.items:
                record(obj)
            self._threads.append(threading.Thread(target=self._watch, daemon=True, args=(
                list_call, kwargs, record, first.metadata.resource_version)))
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        assert not self.errors, self.errors


def _pod_creates(cluster, start: int, namespace: str) -> list[dict]:
    """Pod creations the API server's audit log recorded in a namespace since line `start`."""
    out = []
    for line in (cluster.local.logs / "audit.log").read_text().splitlines()[start:]:
        e = json.loads(line)
        ref = e.get("objectRef") or {}
        if (ref.get("resource") == "pods" and not ref.get("subresource") and ref.get("namespace") == namespace
                and e["verb"] == "create"):
            out.append(e)
    return out


def _audit_lines(cluster) -> int:
    return len((cluster.local.logs / "audit.log").read_text().splitlines())


def _nodes(api) -> dict[str, dict]:
    return {n["metadata"]["name"]: n for n in st.nodes(api)}


def test_verify_proves_a_vm_on_every_node_with_hardened_pods_in_a_restricted_namespace(cluster, ansible, api):
    with Watcher(api) as seen:
        r = ansible.run("verify")
    assert r.rc == 0, r.text[-3000:]
    workers = workers_of(api)
    nodes = _nodes(api)
    report = r.report["verify"]
    assert {n: v["ok"] for n, v in report.items()} == dict.fromkeys(workers, True)
    for n in workers:
        info = nodes[n]["status"]["nodeInfo"]
        # The guest kernel of OpenShift sandboxed containers is built from the node's: same release, its own boot.
        assert report[n]["kernel"]["release"] == info["kernelVersion"]
        assert report[n]["node_kernel"] == {"release": info["kernelVersion"], "boot_id": info["bootID"]}
        assert report[n]["kernel"]["boot_id"] != info["bootID"]
        assert f"{n}: runs sandboxed pods in a VM" in r.stdout
    # The pods: no service account token, nothing a restricted profile refuses.
    assert sorted(seen.pods) == [f"verify-{n}" for n in workers]
    for p in seen.pods.values():
        assert p.spec.automount_service_account_token is False
        assert not p.spec.volumes
        (c,) = p.spec.containers
        assert not c.volume_mounts
        assert c.image == VERIFY_IMAGE
        sc = c.security_context
        assert (sc.run_as_non_root, sc.allow_privilege_escalation, sc.capabilities.drop, sc.seccomp_profile.type) \
            == (True, False, ["ALL"], "RuntimeDefault")
    # The namespace verify created: its own labels and the restricted profile, which the API server enforced on
    # the pods (they were admitted there); deleted at the end.
    labels = seen.namespace.metadata.labels
    assert {k: labels.get(k) for k in {**OWN_LABELS, **RESTRICTED}} == {**OWN_LABELS, **RESTRICTED}
    st.wait_for(lambda: NS not in {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}, 60,
                what="the namespace verify created to go")
    assert kata_pods(api) == []


def test_verify_fails_on_a_node_whose_kata_handler_runs_pods_on_the_node_kernel(cluster, ansible, api):
    # A "kata" that is not Kata on worker-1: its pods run, on the node's own kernel.
    st.runs_native(api, "worker-1", "kata")
    r = ansible.run("verify")
    assert r.rc != 0, r.text[-3000:]
    node = _nodes(api)["worker-1"]["status"]["nodeInfo"]
    # It ran (the phase alone would have passed it), on the node's own kernel.
    failure = r.text.split("sandboxed pods do not run on", 1)[1].split("nodes:")[0]
    assert failure.strip().startswith(
        f"worker-1: the pod ran on the node's own kernel ({node['kernelVersion']}, boot ID {node['bootID']}), "
        "not in a VM"), failure[:2000]
    assert "worker-0" not in failure and "worker-2" not in failure
    assert kata_pods(api) == []  # cleaned up on failure too
    # Fixed, it passes.
    st.runs_in_vm(api, "worker-1")
    r = ansible.run("verify")
    assert r.rc == 0, r.text[-3000:]
    assert {n: v["ok"] for n, v in r.report["verify"].items()} == dict.fromkeys(workers_of(api), True)


@pytest.fixture
def tenant_project(cluster, api):
    """The verify namespace requested by tenant the way `oc new-project` lets every OpenShift user: a namespace
    without labels (a ProjectRequest has none), created before verify runs."""
    tenant = client.CoreV1Api(cluster.api("tenant"))

    def create() -> bool:
        try:
            tenant.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
        except ApiException as e:
            if e.status == 403:
                return False  # RBAC's cache has not seen the binding yet
            raise
        return True

    with namespace_creator(api, "tenant", SELF_PROVISIONER):
        st.wait_for(create, 30, what="tenant to create the namespace")
        yield NS


def test_verify_refuses_a_namespace_it_did_not_create_before_creating_any_pod(cluster, ansible, api,
                                                                              tenant_project):
    core = client.CoreV1Api(api)
    before = core.read_namespace(NS)
    start = _audit_lines(cluster)
    r = ansible.run("verify")
    assert r.rc != 0, r.text[-3000:]
    assert (f"namespace {NS} exists but sandboxed.containers did not create it (it lacks the labels "
            "sandboxed.containers/verify=true, app.kubernetes.io/managed-by=sandboxed.containers)") in r.text, \
        r.text[-3000:]
    assert f"Delete it (oc delete namespace {NS})" in r.text and "automation_access" in r.text
    time.sleep(0.5)  # the audit log is written asynchronously
    assert _pod_creates(cluster, start, NS) == []
    assert core.list_namespaced_pod(NS).items == []
    # The namespace is left as it was: verify neither labels nor deletes what is not its own.
    after = core.read_namespace(NS)
    assert after.metadata.uid == before.metadata.uid and after.metadata.labels == before.metadata.labels
    assert after.status.phase == "Active"
    # In check mode too, nothing is created and the refusal is the same.
    r = ansible.run("verify", check=True)
    assert r.rc != 0 and f"namespace {NS} exists but sandboxed.containers did not create it" in r.text


def test_verify_passes_as_the_automation_in_the_namespace_automation_access_made_and_keeps_it(cluster, ansible, api):
    r = ansible.run("automation_access", extra_vars={
        "sandboxed_containers_automation_subjects": [{"kind": "User", "name": "automation"}],
        "sandboxed_containers_automation_verify": True})
    assert r.rc == 0, r.text[-3000:]
    core = client.CoreV1Api(api)
    labels = core.read_namespace(NS).metadata.labels
    assert {k: labels.get(k) for k in OWN_LABELS} == OWN_LABELS
    uid = core.read_namespace(NS).metadata.uid
    start = _audit_lines(cluster)
    st.wait_for(lambda: ansible.run("verify", user="automation").rc == 0, 60,
                what="verify as the automation (RBAC's cache catches up with the bindings)")
    r = ansible.run("verify", user="automation")
    assert r.rc == 0, r.text[-3000:]
    assert {n: v["ok"] for n, v in r.report["verify"].items()} == dict.fromkeys(workers_of(api), True)
    # It used the namespace it was given and left it there; it read the pods' logs as the automation.
    assert core.read_namespace(NS).metadata.uid == uid
    time.sleep(0.5)
    reads = [json.loads(line) for line in (cluster.local.logs / "audit.log").read_text().splitlines()[start:]]
    assert any(e["user"]["username"] == "automation" and (e.get("objectRef") or {}).get("subresource") == "log"
               and e.get("responseStatus", {}).get("code") == 200 for e in reads)
    assert kata_pods(api) == []


def test_verify_uses_a_namespace_with_its_labels_keeps_it_and_warns_when_it_is_not_restricted(ansible, api):
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS, labels=dict(OWN_LABELS))))
    uid = core.read_namespace(NS).metadata.uid
    r = ansible.run("verify", extra_vars={"sandboxed_containers_verify_nodes": ["worker-2"]})
    assert r.rc == 0, r.text[-3000:]
    assert list(r.report["verify"]) == ["worker-2"] and r.report["verify"]["worker-2"]["ok"]
    assert (f"namespace {NS} is not labelled for the restricted Pod Security profile "
            "(pod-security.kubernetes.io/audit=restricted, pod-security.kubernetes.io/enforce=restricted, "
            "pod-security.kubernetes.io/warn=restricted missing)") in r.text
    ns = core.read_namespace(NS)
    assert ns.metadata.uid == uid and ns.status.phase == "Active"  # not verify's to delete
    assert core.list_namespaced_pod(NS).items == []


def test_verify_names_a_node_that_does_not_exist_before_creating_anything(ansible, api):
    r = ansible.run("verify", extra_vars={"sandboxed_containers_verify_nodes": ["worker-0", "worker-9"]})
    assert r.rc != 0
    assert "no such nodes: worker-9; the nodes are master-0, master-1, master-2, worker-0, worker-1, worker-2" \
        in r.text, r.text[-3000:]
    assert NS not in {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}


@pytest.mark.parametrize("image", ["", "ubi9/ubi-minimal:latest"])
def test_verify_refuses_an_image_that_is_missing_or_not_fully_qualified_before_creating_anything(ansible, api,
                                                                                                 image):
    r = ansible.run("verify", extra_vars={"sandboxed_containers_verify_image": image})
    assert r.rc == 2, r.text[-3000:]
    assert ("set the verify image (sandboxed_containers_verify_image)" if not image
            else f"the verify image '{image}' is not fully qualified") in r.text
    assert "nothing was created" in r.text
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(api).read_namespace(NS)
    assert e.value.status == 404
    # A tag passes with a warning: it can change under you.
    r = ansible.run("verify", extra_vars={"sandboxed_containers_verify_nodes": ["worker-2"],
                                          "sandboxed_containers_verify_image": "registry.invalid/ubi9/ubi:latest"})
    assert r.rc == 0, r.text[-3000:]
    assert "the verify image registry.invalid/ubi9/ubi:latest is a tag" in r.text
