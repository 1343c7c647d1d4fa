"""Install: playbooks/install.yml against the local cluster, with the simulated MCO and nodes."""

from __future__ import annotations

import base64
import re
import threading
import time
import tomllib

import pytest
from kubernetes import client

from sim import testing as st
from support import (
    FAST,
    MC_NAME,
    clean_up,
    handler_nodes,
    kata_pods,
    new_namespace,
    roll_back,
    run_pods,
    snapshot,
    workers_of,
)


def test_install_on_every_worker(cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=5)  # slow enough that the wait sees the rollout under way, under load too
    r = ansible.run("install")
    assert r.rc == 0, r
    mc = cluster.dynamic().resources.get(api_version="machineconfiguration.openshift.io/v1",
                                         kind="MachineConfig").get(name=MC_NAME).to_dict()
    assert mc["spec"]["extensions"] == ["sandboxed-containers"]
    (f,) = mc["spec"]["config"]["storage"]["files"]
    assert (f["path"], f["mode"]) == ("/etc/crio/crio.conf.d/51-sandboxed-containers", 0o644)
    assert mc["spec"]["config"]["ignition"]["version"].startswith("3.")
    dropin = tomllib.loads(base64.b64decode(f["contents"]["source"].split(",", 1)[1]).decode())
    assert dropin["crio"]["runtime"]["runtimes"]["kata"] == {
        "runtime_path": "/usr/bin/containerd-shim-kata-v2", "runtime_type": "vm", "runtime_root": "/run/vc",
        "privileged_without_host_devices": True,
    }
    worker = st.pool(api, "worker")
    assert MC_NAME in [s["name"] for s in worker["spec"]["configuration"]["source"]]
    assert worker["status"]["configuration"]["name"] == worker["spec"]["configuration"]["name"]
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}
    rc = client.NodeV1Api(api).read_runtime_class("kata")
    assert rc.handler == "kata"
    assert rc.overhead.pod_fixed == {"cpu": "250m", "memory": "350Mi"}
    assert rc.scheduling.node_selector == {"sandboxed.containers/handler": "kata"}
    assert handler_nodes(api) == ["worker-0", "worker-1", "worker-2"]
    pods = run_pods(api, "kata", count=3)
    assert {p.spec.node_name for p in pods} <= {"worker-0", "worker-1", "worker-2"}
    assert all(p.status.phase == "Running" for p in pods)
    assert all(p.spec.overhead == {"cpu": "250m", "memory": "350Mi"} for p in pods)
    assert r.report["installed"] is True
    assert r.report["counts"]["installed"] == 3
    # Live progress lines of the wait, printed as the nodes moved (whether the wait begins before or
    # after the MCO rendered depends on timing, so only the later lines are certain).
    assert re.search(r"pool_wait: worker: [12]/3 updated", r.output), r.output
    assert "pool_wait: worker: 3/3 updated, converged on rendered-worker-" in r.output


@pytest.mark.parametrize("selector", [
    {"matchLabels": {"sandboxed": "yes"}},
    {"matchExpressions": [{"key": "sandboxed", "operator": "In", "values": ["yes", "maybe"]},
                          {"key": "excluded", "operator": "DoesNotExist"}]},
], ids=["matchLabels", "matchExpressions"])
def test_install_on_two_of_three_workers(cluster, ansible, fresh, selector):
    api = fresh
    st.label_node(api, "worker-0", {"sandboxed": "yes"})
    st.label_node(api, "worker-2", {"sandboxed": "yes"})
    r = ansible.run("install", extra_vars={"sandboxed_containers_node_selector": selector})
    assert r.rc == 0, r
    pool = st.pool(api, "kata-oc")
    assert pool["status"]["machineCount"] == pool["status"]["updatedMachineCount"] == 2
    assert st.pool(api, "worker")["status"]["machineCount"] == 1
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 0, "worker-2": 1}
    rc = client.NodeV1Api(api).read_runtime_class("kata")
    assert rc.scheduling.node_selector == {"sandboxed.containers/handler": "kata"}
    assert handler_nodes(api) == ["worker-0", "worker-2"]
    pods = run_pods(api, "kata", count=6)
    assert {p.spec.node_name for p in pods} <= {"worker-0", "worker-2"}


@pytest.mark.parametrize(("topology", "nodes"), [
    ("compact", ["master-0", "master-1", "master-2"]),
    ("sno", ["master-0"]),
])
def test_install_on_compact_and_single_node(cluster, ansible, topology, nodes):
    api = cluster.api()
    clean_up(api)
    st.reset(api, topology=topology, **FAST)
    try:
        r = ansible.run("install")
        assert r.rc == 0, r
        assert "the master pool is the target" in r.text
        assert st.reboots(api) == dict.fromkeys(nodes, 1)
        rc = client.NodeV1Api(api).read_runtime_class("kata")
        assert rc.scheduling.node_selector == {"sandboxed.containers/handler": "kata"}
        assert handler_nodes(api) == nodes
        assert st.pool(api, "master")["status"]["updatedMachineCount"] == len(nodes)
        pods = run_pods(api, "kata", count=len(nodes))
        assert {p.spec.node_name for p in pods} <= set(nodes)
    finally:
        clean_up(api)
        st.reset(api, topology="standard", workers=3, **FAST)


def test_second_run_changes_nothing_and_reboots_nothing(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    before = st.reboots(api)
    r = ansible.run("install")
    assert r.rc == 0, r
    assert r.changed == 0, r
    assert st.reboots(api) == before


def test_check_mode_on_a_fresh_cluster_changes_nothing_and_shows_the_plan(cluster, ansible, fresh):
    api = fresh
    st.label_node(api, "worker-1", {"sandboxed": "yes"})
    before = snapshot(api)
    r = ansible.run("install", check=True, diff=True,
                    extra_vars={"sandboxed_containers_node_selector": {"matchLabels": {"sandboxed": "yes"}}})
    assert r.rc == 0, r
    assert "Would install on worker-1 through pool kata-oc (extension sandboxed-containers, OpenShift 4." in r.text
    assert "Nodes that reboot once: worker-1; no other node reboots." in r.text
    assert "Changes: MachineConfig 50-sandboxed-containers: created (role kata-oc, extension sandboxed-containers)" \
        in r.text
    assert "[crio.runtime.runtimes.kata]" in r.stdout  # the drop-in, decoded, in the diff
    assert r.report["plan"]["reboot"] == ["worker-1"]
    assert snapshot(api) == before
    assert st.reboots(api) == dict.fromkeys(before["nodes"], 0)


def test_a_naive_wait_is_fooled_by_the_stale_updated_window_and_ours_is_not(cluster, ansible, fresh):
    api = fresh
    st.configure(api, render_delay=5, node_update=0.4)  # the MCO's real render delay
    mc = st.machine_config(MC_NAME, "worker", extensions=["sandboxed-containers"],
                           files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()})
    # The naive wait: what `oc wait mcp/worker --for condition=Updated` or an until-loop on Updated=True does.
    st.create_mc(api, mc)
    t0 = time.monotonic()
    while True:
        p = st.pool(api, "worker")
        if (st.condition(p, "Updated") or {}).get("status") == "True" and \
                p["status"].get("observedGeneration") == p["metadata"]["generation"]:
            break
        time.sleep(0.1)
    naive = time.monotonic() - t0
    assert sum(st.reboots(api).values()) == 0, "the naive wait returned before any node rebooted"
    # Ours, on the same change.
    r = ansible.module("pool_wait", {"pools": ["worker"], "machine_config": MC_NAME})
    assert r.rc == 0, r
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}
    print(f"\nnaive wait returned after {naive:.2f} s with 0 reboots; ours after every worker rebooted")


def test_node_fault_fails_fast_and_a_rerun_completes(cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=1.5)
    degraded_at = {}

    def watch():
        # The fault strikes once the rollout is under way.
        st.wait_for(lambda: any(
            (n["metadata"].get("annotations") or {}).get("machineconfiguration.openshift.io/state") == "Working"
            for n in st.nodes(api)), 60, what="the rollout to start")
        st.set_fault(api, "worker-1", "simulated disk failure while writing /etc/crio/crio.conf.d/50-kata")
        while "t" not in degraded_at:
            n = {x["metadata"]["name"]: x for x in st.nodes(api)}["worker-1"]
            if (n["metadata"].get("annotations") or {}).get("machineconfiguration.openshift.io/state") == "Degraded":
                degraded_at["t"] = time.monotonic()
            time.sleep(0.05)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    r = ansible.run("install")
    ended = time.monotonic()
    assert r.rc != 0, r
    assert "node worker-1 is Degraded: " in r.text, r.text[-3000:]
    assert "simulated disk failure" in r.text
    assert "The install stopped at \"Wait until the rollout has finished on every node of every pool it touches\"" \
        in r.text
    assert "t" in degraded_at
    assert ended - degraded_at["t"] < 10, f"the play failed {ended - degraded_at['t']:.1f} s after Degraded"
    st.clear_fault(api, "worker-1")
    r = ansible.run("install")
    assert r.rc == 0, r
    assert st.reboots(api)["worker-1"] == 1
    assert r.report["installed"] is True


def test_wait_timeout_says_what_it_still_waits_for_and_a_rerun_completes(cluster, ansible, fresh):
    api = fresh
    st.hang(api, "worker-1", "apply")
    r = ansible.run("install", extra_vars={"sandboxed_containers_wait_timeout": 8})
    assert r.rc != 0, r
    assert "timed out after 8 s waiting for worker" in r.text
    assert "worker-1 Working" in r.text
    assert "The rollout goes on in the cluster: run again to keep waiting" in r.text
    st.unhang(api, "worker-1")
    r = ansible.run("install")
    assert r.rc == 0, r
    assert st.reboots(api)["worker-1"] == 1


def test_wait_survives_an_api_server_restart(cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=5)
    proc = ansible.start("install")
    lines: list[str] = []
    in_wait = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if "Wait until the rollout has finished" in line:
                in_wait.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # The restart must hit the wait itself (the steps before it fail on an unreachable API server, as they should).
    assert in_wait.wait(120), "".join(lines)
    st.wait_for(lambda: any(
        (n["metadata"].get("annotations") or {}).get("machineconfiguration.openshift.io/state") == "Working"
        for n in st.nodes(api)), 60, what="the rollout to start")
    cluster.restart("kube-apiserver")
    proc.wait(timeout=300)
    reader.join(10)
    assert proc.returncode == 0, "".join(lines)
    api = cluster.api()
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}


def test_verify_passes_after_install_and_names_a_node_that_lacks_the_handler(cluster, ansible, fresh):
    api = fresh
    old = st.pool(api, "worker")["spec"]["configuration"]["name"]
    assert ansible.run("install").rc == 0
    r = ansible.run("verify")
    assert r.rc == 0, r
    assert {n: v["ok"] for n, v in r.report["verify"].items()} == dict.fromkeys(workers_of(api), True)
    # Behind the collection's back: worker-2 goes back to the config without Kata.
    st.patch_pool_spec(api, "worker", {"paused": True})
    roll_back(api, "worker-2", old)
    # The simulated kubelet sees the node's config through its informer; on a loaded machine it can lag behind
    # the patch, so first a pod of our own must be refused there, as verify's will be.
    core = client.CoreV1Api(api)
    probe = new_namespace(api)
    core.create_namespaced_pod(probe, client.V1Pod(
        metadata=client.V1ObjectMeta(name="probe"),
        spec=client.V1PodSpec(runtime_class_name="kata", node_selector={"kubernetes.io/hostname": "worker-2"},
                              containers=[client.V1Container(name="c", image="registry.invalid/ubi9/ubi-minimal:1")])))
    st.wait_for(lambda: any(e.reason == "FailedCreatePodSandBox" for e in core.list_namespaced_event(probe).items),
                60, what="the simulated kubelet to see worker-2 rolled back")
    r = ansible.run("verify")
    assert r.rc != 0, r
    assert "worker-2: FailedCreatePodSandBox" in r.text, r.text[-3000:]
    assert "worker-0" not in r.text.split("sandboxed pods do not run on", 1)[1].split("nodes:")[0]
    assert [p for p in kata_pods(api) if not p.startswith(f"{probe}/")] == []  # cleaned up even on failure


@pytest.mark.parametrize(("extra_vars", "env", "message"), [
    ({"sandboxed_containers_node_selector": {"matchExpressions": [
        {"key": "sandboxed", "operator": "Equal", "values": ["yes"]}]}}, {},
     "operator 'Equal' is not valid; use one of In, NotIn, Exists, DoesNotExist"),
    ({"sandboxed_containers_node_selector": {"matchLabels": {"sandboxed": "nowhere"}}}, {},
     "matches no worker node; the workers are worker-0, worker-1, worker-2"),
    ({"sandboxed_containers_overhead": {"cpu": "250mc", "memory": "350Mi"}}, {},
     "overhead cpu '250mc' is not a Kubernetes quantity"),
    ({}, {"K8S_AUTH_KUBECONFIG": "/nonexistent/kubeconfig"},
     "the kubeconfig /nonexistent/kubeconfig does not exist"),
    ({}, {"K8S_AUTH_KUBECONFIG": "", "K8S_AUTH_HOST": "https://127.0.0.1:1", "K8S_AUTH_API_KEY": "x",
          "K8S_AUTH_VERIFY_SSL": "false"},
     "cannot reach the API server at https://127.0.0.1:1"),
], ids=["operator", "no-match", "quantity", "kubeconfig", "unreachable"])
def test_bad_input_fails_clearly_and_changes_nothing(cluster, ansible, fresh, extra_vars, env, message):
    api = fresh
    before = snapshot(api)
    r = ansible.run("install", extra_vars=extra_vars, env=env)
    assert r.rc != 0, r
    assert message in r.output, r
    assert "Nothing was changed" in r.output or "does not exist" in message or "cannot reach" in message
    assert snapshot(api) == before


def test_existing_kataconfig_is_refused(cluster, ansible, fresh):
    from localcluster.bootstrap import install_kataconfig_crd

    api = fresh
    install_kataconfig_crd(api)
    kc = cluster.dynamic().resources.get(api_version="kataconfiguration.openshift.io/v1", kind="KataConfig")
    kc.create(body={"apiVersion": "kataconfiguration.openshift.io/v1", "kind": "KataConfig",
                    "metadata": {"name": "example-kataconfig"}, "spec": {"checkNodeEligibility": False}})
    try:
        before = snapshot(api)
        r = ansible.run("install")
        assert r.rc != 0, r
        assert "the OpenShift sandboxed containers operator manages this cluster (KataConfig example-kataconfig)" \
            in r.output
        assert snapshot(api) == before
    finally:
        kc.delete(name="example-kataconfig")
