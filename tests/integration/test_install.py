"""Install: playbooks/install.yml against the local cluster, with the simulated MCO and nodes."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import threading
import tomllib
from collections.abc import Callable

import pytest
from kubernetes import client, watch

from playbook import REPO, VENV_BIN
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

STATE = "machineconfiguration.openshift.io/state"


class Output:
    """A process started in its own session and the lines it prints, read as they come by a thread that ends with
    the process; `finish` kills the whole session if it outlives its deadline, so nothing keeps changing the
    cluster under the next tests."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return " ".join("".join(self.lines).split())

    def first(self, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
        """The first line that satisfies `predicate`, once printed; fails if the process ends, or the deadline
        passes, without it."""
        def found() -> str | None:
            return next((line for line in self.lines if predicate(line)), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None or self._eof, timeout)
            line = found()
        assert line is not None, f"no line with {what} in {timeout:.0f} s (ended: {self._eof}):\n{''.join(self.lines)}"
        return line

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()  # a test that failed before the end leaves no process behind

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def finish(self, timeout: float) -> int:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout:.0f} s, killed:\n{''.join(self.lines)}") from None
        with self._cond:
            self._cond.wait_for(lambda: self._eof, 30)
        return self.proc.returncode


def start_module(ansible, name: str, args: dict) -> Output:
    """One module of the collection, run ad hoc on localhost as admin, in the background."""
    argv = [str(VENV_BIN / "ansible"), "localhost", "-m", f"sandboxed.containers.{name}", "-a", json.dumps(args)]
    return Output(subprocess.Popen(argv, env=ansible.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, cwd=REPO, start_new_session=True))


def node_states(api) -> dict[str, str | None]:
    return {n["metadata"]["name"]: (n["metadata"].get("annotations") or {}).get(STATE) for n in st.nodes(api)}


def runtime_classes(api) -> list[str]:
    return sorted(rc.metadata.name for rc in client.NodeV1Api(api).list_runtime_class().items)


def sources(pool: dict) -> list[str]:
    return [s["name"] for s in ((pool.get("spec") or {}).get("configuration") or {}).get("source") or []]


def done_on_our_config(api) -> list[str]:
    """The workers whose daemon is Done on a rendered config whose pool lists our MachineConfig."""
    ours = {p["spec"]["configuration"]["name"] for p in st.pools(api) if MC_NAME in sources(p)}
    return sorted(n["metadata"]["name"] for n in st.nodes(api)
                  if n["metadata"]["annotations"].get(STATE) == "Done"
                  and n["metadata"]["annotations"].get("machineconfiguration.openshift.io/currentConfig") in ours)


def test_sandboxed_pods_start_on_the_first_ready_node_while_the_others_still_update(cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=4)  # three nodes one after the other: about 12 s of rollout
    core = client.CoreV1Api(api)
    ns = new_namespace(api)
    with Output(ansible.start("install")) as install:
        # The RuntimeClass comes before any node is ready: a pod that uses it waits Pending, it does not fail.
        st.wait_for(lambda: "kata" in runtime_classes(api), 120, what="the RuntimeClass")
        assert handler_nodes(api) == []
        core.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name="early"),
            spec=client.V1PodSpec(runtime_class_name="kata", containers=[
                client.V1Container(name="c", image="registry.invalid/app:1")])))
        # worker-0 is labelled as soon as its update is done, while worker-2 has not begun its own ...
        st.wait_for(lambda: handler_nodes(api), 120, what="the first ready node")
        first = handler_nodes(api)
        assert first == ["worker-0"], first
        assert "worker-2" not in done_on_our_config(api)
        worker0 = next(n for n in st.nodes(api) if n["metadata"]["name"] == "worker-0")
        ready_since = worker0["metadata"]["annotations"]["sandboxed.containers/ready-since"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ready_since)
        # ... and the pod starts there before the install has finished.
        pod = st.wait_for(lambda: (p := core.read_namespaced_pod("early", ns)).status.phase == "Running" and p,
                          60, what="the pod on the first ready node")
        assert pod.spec.node_name == "worker-0"
        assert install.proc.poll() is None, "the install should still be waiting for worker-1 and worker-2"
        assert install.finish(300) == 0, install.text
    assert "pool_wait: ready for sandboxed pods: worker-0" in install.text
    assert handler_nodes(api) == ["worker-0", "worker-1", "worker-2"]


def test_an_install_killed_during_the_rollout_is_carried_on_by_a_rerun_that_labels_what_is_ready(
        cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=3)
    with Output(ansible.start("install")) as install:
        st.wait_for(lambda: handler_nodes(api), 120, what="the first ready node")
        install.kill()  # midway: worker-0 labelled, the others still to update
    assert handler_nodes(api) == ["worker-0"]
    assert len(done_on_our_config(api)) < 3
    # The MCO carries on without us; the re-run finds what is ready, labels it, and waits for the rest.
    r = ansible.run("install")
    assert r.rc == 0, r
    assert handler_nodes(api) == ["worker-0", "worker-1", "worker-2"]
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}
    assert {n["name"]: n["readiness"] for n in r.report["nodes"] if n["name"].startswith("worker")} == \
        {"worker-0": "ready", "worker-1": "ready", "worker-2": "ready"}


class Recorder:
    """Every event of a watch on nodes or on one namespace's pods, from before the install to the end of the test,
    with its resourceVersion: the API server's revisions are one order across kinds, so a pod bound after a node
    was labelled has the greater one."""

    def __init__(self, api, list_call, **kwargs) -> None:
        self.events: list[dict] = []
        self._watch = watch.Watch()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(list_call, kwargs), daemon=True)
        self._thread.start()

    def _run(self, list_call, kwargs) -> None:
        since = {}  # a watch the server ends is resumed where it stopped, so no event is missed
        while not self._stopped.is_set():
            try:
                for event in self._watch.stream(list_call, timeout_seconds=600, **kwargs, **since):
                    self.events.append(event["raw_object"])
                    since = {"resource_version": event["raw_object"]["metadata"]["resourceVersion"]}
            except Exception:  # the connection closed by stop(), or by the server: resumed above
                self._stopped.wait(0.2)

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()


def test_in_a_20_node_rollout_no_sandboxed_pod_is_bound_to_a_node_before_it_is_ready(cluster, ansible, fresh):
    api = fresh
    st.reset(api, topology="standard", workers=20, render_delay=1, node_update=1)
    core = client.CoreV1Api(api)
    ns = new_namespace(api)
    nodes = Recorder(api, core.list_node)
    pods = Recorder(api, core.list_namespaced_pod, namespace=ns)
    try:
        with Output(ansible.start("install")) as install:
            st.wait_for(lambda: "kata" in runtime_classes(api), 120, what="the RuntimeClass")
            for i in range(5):  # created at the start, before any node is ready
                core.create_namespaced_pod(ns, client.V1Pod(
                    metadata=client.V1ObjectMeta(name=f"early-{i}"),
                    spec=client.V1PodSpec(runtime_class_name="kata", containers=[
                        client.V1Container(name="c", image="registry.invalid/app:1")])))
            running = st.wait_for(lambda: [p for p in core.list_namespaced_pod(ns).items
                                           if p.status.phase == "Running"], 180, what="a sandboxed pod running")
            assert install.proc.poll() is None, "the rollout should still be under way"
            assert len(done_on_our_config(api)) < 20, done_on_our_config(api)
            first_ready = handler_nodes(api)
            assert {p.spec.node_name for p in running} <= set(first_ready)
            assert install.finish(600) == 0, install.text
    finally:
        nodes.stop()
        pods.stop()
    ours = {p["spec"]["configuration"]["name"] for p in st.pools(api) if MC_NAME in sources(p)}
    labelled: dict[str, int] = {}  # node -> revision at which it first carried the handler label
    for n in nodes.events:
        md = n["metadata"]
        if md["name"] in labelled or (md.get("labels") or {}).get("sandboxed.containers/handler") != "kata":
            continue
        labelled[md["name"]] = int(md["resourceVersion"])
        # Labelled only once ready: Done on a rendered config that carries our MachineConfig, and Ready.
        assert md["annotations"].get(STATE) == "Done", md
        assert md["annotations"].get("machineconfiguration.openshift.io/currentConfig") in ours, md
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"]
        assert ready == "True", n["status"]
    assert sorted(labelled) == sorted(workers_of(api))
    bound = {}
    for p in pods.events:
        name, node = p["metadata"]["name"], (p.get("spec") or {}).get("nodeName")
        if node and name not in bound:
            bound[name] = (node, int(p["metadata"]["resourceVersion"]))
    assert len(bound) == 5, bound
    for name, (node, revision) in bound.items():
        assert node in labelled and labelled[node] < revision, (name, node, revision, labelled.get(node))
    # The first pods started on the first nodes, long before the last node was ready.
    assert min(rev for _node, rev in bound.values()) < max(labelled.values())


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
    # Node by node: every worker ready for sandboxed pods since the wait labelled it; the masters not chosen.
    readiness = {n["name"]: n["readiness"] for n in r.report["nodes"]}
    assert readiness == {"master-0": "not chosen", "master-1": "not chosen", "master-2": "not chosen",
                         "worker-0": "ready", "worker-1": "ready", "worker-2": "ready"}
    assert all(n["ready_since"] for n in r.report["nodes"] if n["readiness"] == "ready")
    assert r.report["readiness"]["ready"] == 3
    assert "Ready for sandboxed pods: worker-0, worker-1, worker-2." in r.text
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
    old = st.pool(api, "worker")["spec"]["configuration"]["name"]
    # Right after a MachineConfig is written the MCO waits (5 s in OpenShift) before it renders, and until then the
    # pool says Updated=True for the old rendered config. Here the MachineConfig is first written with a role no
    # pool selects, which leaves the worker pool exactly in that state for as long as the test needs (whatever the
    # machine's load, and whatever render the simulated MCO had queued before); both waits begin in it. Giving the
    # MachineConfig the worker role is then the change the MCO renders, after its delay.
    mc = st.machine_config(MC_NAME, "sandboxed-test-held", extensions=["sandboxed-containers"],
                           files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()})
    st.create_mc(api, mc)

    def stale() -> dict:
        """The worker pool, asserted to be in the stale window: Updated=True, its generation observed, on the old
        rendered config, without our MachineConfig."""
        p = st.pool(api, "worker")
        assert (st.condition(p, "Updated") or {}).get("status") == "True", p["status"]
        assert p["status"].get("observedGeneration") == p["metadata"]["generation"], p
        assert p["spec"]["configuration"]["name"] == p["status"]["configuration"]["name"] == old, p
        assert MC_NAME not in sources(p), p
        return p

    # The naive wait: what `oc wait mcp/worker --for condition=Updated` or an until-loop on Updated=True does.
    # It returns at once, in the window, before any node rebooted.
    naive = st.wait_for(lambda: (p := st.pool(api, "worker")) and (st.condition(p, "Updated") or {}).get(
        "status") == "True" and p["status"].get("observedGeneration") == p["metadata"]["generation"] and p,
        30, what="the naive wait's condition (Updated=True, generation observed)")
    assert naive["spec"]["configuration"]["name"] == old and MC_NAME not in sources(naive)
    assert sum(st.reboots(api).values()) == 0, "the naive wait returned before any node rebooted"
    # Ours, on the same MachineConfig, begun in the same window: its first account of the pool is that the MCO has
    # not rendered our MachineConfig yet, and it keeps waiting while the pool says Updated=True.
    with start_module(ansible, "pool_wait", {"pools": ["worker"], "machine_config": MC_NAME,
                                             "timeout": 300}) as ours:
        first = ours.first(lambda line: line.startswith("pool_wait: "), 120, what="the wait's first progress line")
        assert first.strip() == f"pool_wait: worker: waiting for the MCO to render {MC_NAME}", ours.text
        stale()
        assert ours.proc.poll() is None, ours.text
        # The MCO renders our MachineConfig for the worker pool, then rolls it out.
        st.kube(api).merge_patch(f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{MC_NAME}",
                                 {"metadata": {"labels": {"machineconfiguration.openshift.io/role": "worker"}}})
        assert ours.finish(300) == 0, ours.text
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}
    worker = st.pool(api, "worker")
    assert MC_NAME in sources(worker) and worker["status"]["configuration"]["name"] != old
    assert f"pool_wait: worker: 3/3 updated, converged on {worker['spec']['configuration']['name']}" in ours.text


def test_a_node_fault_during_the_rollout_fails_fast_with_no_pod_on_the_faulty_node_and_a_rerun_completes(
        cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=1.5)
    fault = "simulated disk failure while writing /etc/crio/crio.conf.d/50-kata"
    # A long wait timeout: the wait must stop on the fault, not on the timeout.
    with Output(ansible.start("install", extra_vars={"sandboxed_containers_wait_timeout": 1800})) as install:
        # The fault strikes once the rollout is under way (worker-1 fails its update, or, before its turn, its
        # check of the on-disk state): it stays Degraded until the fault is cleared.
        st.wait_for(lambda: "Working" in node_states(api).values(), 120, what="the rollout to start")
        st.set_fault(api, "worker-1", fault)
        assert install.finish(300) != 0, install.text
    text = install.text
    assert f"node worker-1 is Degraded: {fault}" in text, text[-3000:]
    assert ("The install stopped at \"Wait until the rollout has finished on every node of every pool it touches\""
            in text), text[-3000:]
    assert "timed out" not in text, text[-3000:]
    assert node_states(api)["worker-1"] == "Degraded"
    assert st.reboots(api)["worker-1"] == 0
    # It failed during the rollout: the MachineConfig is in, the worker pool targets a render with it ...
    assert MC_NAME in sources(st.pool(api, "worker"))
    # ... the RuntimeClass exists and selects the handler label, which only the nodes that finished their update
    # before the fault carry: no sandboxed pod can land on worker-1.
    rc = client.NodeV1Api(api).read_runtime_class("kata")
    assert rc.scheduling.node_selector == {"sandboxed.containers/handler": "kata"}
    assert "worker-1" not in handler_nodes(api)
    assert set(handler_nodes(api)) <= set(done_on_our_config(api))
    st.clear_fault(api, "worker-1")
    r = ansible.run("install")
    assert r.rc == 0, r
    assert st.reboots(api)["worker-1"] == 1
    assert r.report["installed"] is True
    assert client.NodeV1Api(api).read_runtime_class("kata").handler == "kata"
    assert handler_nodes(api) == ["worker-0", "worker-1", "worker-2"]


def test_wait_timeout_says_what_it_still_waits_for_and_a_rerun_completes(cluster, ansible, fresh):
    api = fresh
    st.hang(api, "worker-1", "apply")
    r = ansible.run("install", extra_vars={"sandboxed_containers_wait_timeout": 8})
    assert r.rc != 0, r
    assert "timed out after 8 s waiting for worker" in r.text
    assert "worker-1 Working" in r.text
    assert "The rollout goes on in the cluster: run again to keep waiting" in r.text
    # worker-0 finished before worker-1 hung; worker-2 waits its turn: only worker-0 may take sandboxed pods.
    assert runtime_classes(api) == ["kata"]
    assert handler_nodes(api) == ["worker-0"]
    st.unhang(api, "worker-1")
    r = ansible.run("install")
    assert r.rc == 0, r
    assert st.reboots(api)["worker-1"] == 1
    assert runtime_classes(api) == ["kata"]


def test_wait_survives_an_api_server_restart(cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=5)
    with Output(ansible.start("install")) as install:
        # The restart must hit the wait itself (the steps before it fail on an unreachable API server, as they
        # should).
        install.first(lambda line: "Wait until the rollout has finished" in line, 120, what="the final wait's task")
        st.wait_for(lambda: "Working" in node_states(api).values(), 60, what="the rollout to start")
        cluster.restart("kube-apiserver")
        assert install.finish(300) == 0, install.text
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
