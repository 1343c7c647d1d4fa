"""What integration tests look at in the cluster, besides the playbook's own output."""

from __future__ import annotations

import time
import uuid

from kubernetes import client
from kubernetes.dynamic import DynamicClient

from sim import testing as st

MC_NAME = "50-sandboxed-containers"
MC_API = "machineconfiguration.openshift.io/v1"
# Node annotations the simulator rewrites on its own (heartbeats, timings); not a change by the collection.
_VOLATILE = ("sim.sandboxed.containers/", "volumes.kubernetes.io/")


def snapshot(api) -> dict:
    """The objects the collection may touch, compared before and after a run that must change nothing."""
    dyn = DynamicClient(api)

    def items(api_version, kind):
        return sorted((o.to_dict() for o in dyn.resources.get(api_version=api_version, kind=kind).get().items),
                      key=lambda o: o["metadata"]["name"])

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


def test_namespace(api) -> str:
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
    ns = test_namespace(api)
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
