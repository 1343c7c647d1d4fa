"""pods/log through the real API server: it proxies to the simulated kubelet of the pod's node (through its egress
selector), which answers with what the container printed on the kernel its sandbox runs."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sim import testing as st

IMAGE = "registry.invalid/ubi9/ubi-minimal:latest"
SCRIPT = "uname -r; cat /proc/sys/kernel/random/boot_id; sleep 30"


def _pod(name: str, node: str, runtime_class: str | None = None) -> dict:
    spec: dict = {"nodeSelector": {"kubernetes.io/hostname": node},
                  "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", SCRIPT]}]}
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


@pytest.fixture
def kata_workers(sim):
    """Every worker with the extension (the RPM brings CRI-O's kata handler, a VM runtime), and a kata
    RuntimeClass."""
    st.create_mc(sim, st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"]))
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    node = client.NodeV1Api(sim)
    try:
        node.delete_runtime_class("kata")
    except ApiException as e:
        if e.status != 404:
            raise
    st.wait_for(lambda: "kata" not in {rc.metadata.name for rc in node.list_runtime_class().items}, 30,
                what="an old kata RuntimeClass gone")
    node.create_runtime_class({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata"},
                               "handler": "kata"})
    yield sim
    node.delete_runtime_class("kata")


def _running(core, ns: str, name: str) -> None:
    st.wait_for(lambda: core.read_namespaced_pod(name, ns).status.phase == "Running", 30, what=f"{name} running")


def test_a_pod_log_shows_the_guest_kernel_in_a_vm_and_the_node_kernel_otherwise(kata_workers, sim_namespace):
    api, ns = kata_workers, sim_namespace
    core = client.CoreV1Api(api)
    st.runs_native(api, "worker-1", "kata")  # worker-1's "kata" starts no VM
    core.create_namespaced_pod(ns, _pod("runc", "worker-0"))
    core.create_namespaced_pod(ns, _pod("kata", "worker-0", "kata"))
    core.create_namespaced_pod(ns, _pod("kata2", "worker-0", "kata"))
    core.create_namespaced_pod(ns, _pod("native", "worker-1", "kata"))
    for name in ("runc", "kata", "kata2", "native"):
        _running(core, ns, name)
    nodes = {n["metadata"]["name"]: n["status"]["nodeInfo"] for n in st.nodes(api)}
    w0, w1 = nodes["worker-0"], nodes["worker-1"]
    logs = {name: core.read_namespaced_pod_log(name, ns) for name in ("runc", "kata", "kata2", "native")}
    assert logs["runc"] == f"{w0['kernelVersion']}\n{w0['bootID']}\n"
    assert logs["native"] == f"{w1['kernelVersion']}\n{w1['bootID']}\n"
    for name in ("kata", "kata2"):
        release, boot = logs[name].splitlines()
        assert release == w0["kernelVersion"] and boot != w0["bootID"]  # the node's release, its own kernel
    assert logs["kata"] != logs["kata2"]  # a VM per pod
    # PodLogOptions reach the kubelet.
    assert core.read_namespaced_pod_log("kata", ns, tail_lines=1) == logs["kata"].splitlines()[1] + "\n"
    stamped = core.read_namespaced_pod_log("runc", ns, timestamps=True)
    assert [line.split(" ", 1)[1] for line in stamped.splitlines()] == logs["runc"].splitlines()
    assert core.read_namespaced_pod_log("runc", ns, limit_bytes=3) == logs["runc"][:3]
    st.runs_in_vm(api, "worker-1")


def test_the_log_of_a_container_that_did_not_start_is_the_kubelets_error(sim, sim_namespace):
    core = client.CoreV1Api(sim)
    body = _pod("root", "worker-0")
    body["spec"]["securityContext"] = {"runAsNonRoot": True}  # ubi-minimal runs as root: never created
    core.create_namespaced_pod(sim_namespace, body)
    st.wait_for(lambda: (s := core.read_namespaced_pod("root", sim_namespace).status.container_statuses)
                and s[0].state.waiting and s[0].state.waiting.reason == "CreateContainerConfigError", 30,
                what="the container refused")
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod_log("root", sim_namespace)
    assert e.value.status == 400
    assert json.loads(e.value.body)["message"] == \
        'container "main" in pod "root" is waiting to start: CreateContainerConfigError'
