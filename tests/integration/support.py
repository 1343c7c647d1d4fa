"""What integration tests look at in the cluster, besides the playbook's own output."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from sim import testing as st

REPO = Path(__file__).resolve().parents[2]
MC_NAME = "50-sandboxed-containers"
MC_API = "machineconfiguration.openshift.io/v1"
# Quick simulated nodes for the install and life-cycle tests.
FAST = {"render_delay": 1, "node_update": 0.4}
# Node annotations the simulator rewrites on its own (heartbeats, timings); not a change by the collection.
_VOLATILE = ("sim.sandboxed.containers/", "volumes.kubernetes.io/")


def snapshot(api) -> dict:
    """The objects the collection may touch, compared before and after a run that must change nothing."""
    dyn = DynamicClient(api)

    def items(api_version, kind):
        try:
            res = dyn.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return []  # ValidatingAdmissionPolicy before OpenShift 4.17
        return sorted((o.to_dict() for o in res.get().items), key=lambda o: o["metadata"]["name"])

    def meta(o):
        m = o["metadata"]
        return {"labels": m.get("labels") or {},
                "annotations": {k: v for k, v in (m.get("annotations") or {}).items() if not k.startswith(_VOLATILE)}}

    return {
        "machineconfigs": {o["metadata"]["name"]: (meta(o), o.get("spec")) for o in items(MC_API, "MachineConfig")},
        "pools": {o["metadata"]["name"]: (meta(o), o.get("spec")) for o in items(MC_API, "MachineConfigPool")},
        "nodes": {o["metadata"]["name"]: (meta(o), o["spec"].get("unschedulable"))
                  for o in items("v1", "Node")},
        "runtimeclasses": {o["metadata"]["name"]: o for o in items("node.k8s.io/v1", "RuntimeClass")},
        "admission": {o["metadata"]["name"]: o.get("spec") for kind in (
            "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
            for o in items("admissionregistration.k8s.io/v1", kind)},
    }


def workers_of(api) -> list[str]:
    return sorted(n["metadata"]["name"] for n in st.nodes(api)
                  if "node-role.kubernetes.io/worker" in (n["metadata"].get("labels") or {})
                  and "node-role.kubernetes.io/master" not in (n["metadata"].get("labels") or {}))


def openshift_release(api) -> tuple[int, int]:
    """The release the local cluster pretends to be, from its ClusterVersion."""
    version = st.kube(api).get("/apis/config.openshift.io/v1/clusterversions/version")["status"]["desired"]["version"]
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def handler_nodes(api) -> list[str]:
    """The nodes the collection marked as having the handler (what the RuntimeClass schedules onto)."""
    return sorted(n["metadata"]["name"] for n in st.nodes(api)
                  if (n["metadata"].get("labels") or {}).get("sandboxed.containers/handler") == "kata")


def new_namespace(api) -> str:
    core = client.CoreV1Api(api)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={"sandboxed-test": "true"})))
    st.wait_for(lambda: _has_sa(core, name), 30, what="the default service account")
    return name


def _has_sa(core, ns) -> bool:
    try:
        core.read_namespaced_service_account("default", ns)
        return True
    except client.ApiException:
        return False


def run_pods(api, runtime_class: str, count: int, timeout: float = 60) -> list:
    """Starts `count` pods with the runtime class and returns them once all are Running."""
    core = client.CoreV1Api(api)
    ns = new_namespace(api)
    for i in range(count):
        core.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=f"kata-{i}", labels={"app": "kata-test"}),
            spec=client.V1PodSpec(runtime_class_name=runtime_class, containers=[
                client.V1Container(name="c", image="registry.invalid/app:1")])))

    def running():
        pods = core.list_namespaced_pod(ns).items
        return pods if len(pods) == count and all(p.status.phase == "Running" for p in pods) else None

    return st.wait_for(running, timeout, what=f"{count} sandboxed pods running")


def kata_pods(api) -> list[str]:
    return sorted(f"{p.metadata.namespace}/{p.metadata.name}"
                  for p in client.CoreV1Api(api).list_pod_for_all_namespaces().items
                  if p.spec.runtime_class_name)


def roll_back(api, node: str, config: str) -> None:
    """Puts a node back on an older rendered config behind the collection's back (its pool must be paused)."""
    st.kube(api).merge_patch(f"/api/v1/nodes/{node}", {"metadata": {"annotations": {
        "machineconfiguration.openshift.io/currentConfig": config,
        "machineconfiguration.openshift.io/desiredConfig": config,
        "machineconfiguration.openshift.io/state": "Done"}}})


def wait_for(predicate, timeout: float = 60, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Recorder:
    """Records, in order, what happens to the objects an operation touches (a watch per kind)."""

    KINDS = {
        "runtimeclass": "/apis/node.k8s.io/v1/runtimeclasses",
        "node": "/api/v1/nodes",
        "pool": "/apis/machineconfiguration.openshift.io/v1/machineconfigpools",
        "machineconfig": "/apis/machineconfiguration.openshift.io/v1/machineconfigs",
    }

    def __init__(self, api, label_key: str = "node-role.kubernetes.io/kata-oc") -> None:
        import threading

        self.kube = st.kube(api)
        self.label_key = label_key
        self.events: list[tuple[float, str, str, str]] = []  # (time, kind, what, name)
        self._stop = threading.Event()
        self._labels: dict[str, bool] = {}
        self._threads = [threading.Thread(target=self._run, args=(k, p), daemon=True) for k, p in self.KINDS.items()]
        self._listed = {k: threading.Event() for k in self.KINDS}

    def __enter__(self) -> Recorder:
        for t in self._threads:
            t.start()
        # Until each kind is listed: its watch starts from that version, so whatever the operation does after this
        # is seen (a fixed sleep was not always enough on a loaded machine).
        for kind, listed in self._listed.items():
            assert listed.wait(30), f"the recorder could not list {kind}s"
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def _run(self, kind: str, path: str) -> None:
        import json

        listed = self.kube.get(path)
        for o in listed.get("items") or []:
            if kind == "node":
                self._labels[o["metadata"]["name"]] = self.label_key in (o["metadata"].get("labels") or {})
        rv = listed["metadata"]["resourceVersion"]
        self._listed[kind].set()
        while not self._stop.is_set():
            try:
                body = self.kube.stream(path, {"watch": "true", "resourceVersion": rv, "timeoutSeconds": 30,
                                               "allowWatchBookmarks": "true"}, read_timeout=40)
                for line in body:
                    if self._stop.is_set():
                        return
                    ev = json.loads(line)
                    o = ev["object"]
                    rv = o["metadata"].get("resourceVersion", rv)
                    self._on(kind, ev["type"], o)
            except Exception:
                time.sleep(0.2)

    def _on(self, kind: str, typ: str, o: dict) -> None:
        name = o["metadata"]["name"]
        now = time.monotonic()
        if kind == "node":
            has = self.label_key in (o["metadata"].get("labels") or {})
            if self._labels.get(name) is not None and has != self._labels[name]:
                self.events.append((now, kind, "labelled" if has else "unlabelled", name))
            self._labels[name] = has
        elif typ in ("ADDED", "DELETED"):
            self.events.append((now, kind, typ.lower(), name))

    def first(self, kind: str, what: str, name: str | None = None) -> float:
        for t, k, w, n in self.events:
            if k == kind and w == what and (name is None or n == name):
                return t
        raise AssertionError(f"no {kind} {what} {name or ''} among {self.events}")

    def last(self, kind: str, what: str) -> float:
        times = [e[0] for e in self.events if e[1] == kind and e[2] == what]
        if not times:
            raise AssertionError(f"no {kind} {what} among {self.events}")
        return max(times)


def clean_up(api) -> None:
    """Deletes the RuntimeClasses, the collection's admission policies and the tests' namespaces, which a cluster
    reset leaves alone."""
    node_api = client.NodeV1Api(api)
    for rc in node_api.list_runtime_class().items:
        node_api.delete_runtime_class(rc.metadata.name)
    dyn = DynamicClient(api)
    for kind in ("ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy"):
        try:
            res = dyn.resources.get(api_version="admissionregistration.k8s.io/v1", kind=kind)
        except ResourceNotFoundError:
            continue  # not served before OpenShift 4.17
        for item in res.get(label_selector="app.kubernetes.io/managed-by=sandboxed.containers").items:
            res.delete(name=item.metadata.name)
    core = client.CoreV1Api(api)
    for ns in core.list_namespace(label_selector="sandboxed-test=true").items:
        delete_namespace(core, ns.metadata.name)
    # Until they are gone: their pods would otherwise still sit on the nodes when the next test's install plans the
    # drains (a pod without a controller stops it, drain_blockers stop).
    st.wait_for(lambda: not core.list_namespace(label_selector="sandboxed-test=true").items, 120,
                what="the tests' namespaces deleted")


def delete_namespace(core: client.CoreV1Api, name: str) -> None:
    """Deletes the namespace's pods at once, then the namespace. A namespace deleted with pods still in it waits
    for them: the namespace controller checks again only after half their grace period plus 1 s (16 s for the
    default 30 s; pkg/controller/namespace/namespace_controller.go, estimate.Estimate/2 + 1), even when the kubelet
    removed them at once."""
    try:
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
        core.delete_namespace(name, grace_period_seconds=0)
    except client.ApiException as e:
        if e.status != 404:
            raise


@contextmanager
def namespace_creator(api, user: str, name: str) -> Iterator[None]:
    """Lets `user` create namespaces the way OpenShift's project requests let every user (the ClusterRole `name`
    and its binding, removed on exit); what they create carries no labels, as a ProjectRequest has none."""
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role(client.V1ClusterRole(
        metadata=client.V1ObjectMeta(name=name),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["namespaces"], verbs=["create"])]))
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=name),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name),
        subjects=[client.RbacV1Subject(kind="User", name=user, api_group="rbac.authorization.k8s.io")]))
    try:
        yield
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)
