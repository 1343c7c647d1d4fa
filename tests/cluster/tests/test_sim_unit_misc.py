"""Selectors, knobs, the work queue, pod status and node taints (no cluster)."""

from __future__ import annotations

import threading
import time

from sim import ignition, lifecycle, podstatus, selectors
from sim.knobs import Knobs
from sim.kube import Informer, WorkQueue
from sim.topology import build_node, node_names


def test_selector_matching_and_printing():
    sel = {"matchLabels": {"b": "1"}, "matchExpressions": [
        {"key": "a", "operator": "In", "values": ["y", "x"]}, {"key": "c", "operator": "DoesNotExist"},
        {"key": "d", "operator": "NotIn", "values": ["z"]}, {"key": "e", "operator": "Exists"}]}
    assert selectors.to_string(sel) == "a in (x,y),b=1,!c,d notin (z),e"
    assert selectors.matches(sel, {"a": "x", "b": "1", "e": ""})
    assert not selectors.matches(sel, {"a": "x", "b": "1", "e": "", "c": "1"})
    assert not selectors.matches(sel, {"a": "x", "b": "1", "e": "", "d": "z"})
    assert selectors.matches({}, {"any": "thing"}) and not selectors.matches(None, {})
    assert not selectors.mco_matches({}, {"any": "thing"})


def test_knobs_from_configmap_data():
    k = Knobs.from_data({"renderDelaySeconds": "1.5", "nodeUpdateSeconds": "0.25", "supportedExtensions": "a, b",
                         "extensionValidation": "daemon", "topology": "sno", "heartbeatSeconds": "bad",
                         "unknown": "x"})
    assert (k.render_delay, k.node_update, k.supported_extensions, k.extension_validation) == (1.5, 0.25, ("a", "b"),
                                                                                               "daemon")
    assert k.heartbeat == 30.0 and k.control_plane_topology == "SingleReplica"
    assert Knobs.from_data(Knobs().to_data()) == Knobs()
    assert Knobs().to_data()["renderDelaySeconds"] == "5"


def test_work_queue_dedupes_and_keeps_the_earliest_time():
    q = WorkQueue()
    q.add("a")
    q.add("a")
    q.add_after("b", 0.2)
    q.add_after("b", 5.0)  # a later time does not postpone it
    t0 = time.monotonic()
    assert q.get() == "a"
    q.done("a")
    assert q.get() == "b"
    assert 0.15 < time.monotonic() - t0 < 1.0
    q.done("b")
    assert len(q) == 0


def test_work_queue_never_runs_a_key_twice_at_once():
    q = WorkQueue()
    q.add("k")
    assert q.get() == "k"
    q.add("k")  # while processing: marked dirty, handed out again only after done()
    got: list[str] = []
    t = threading.Thread(target=lambda: got.append(q.get()), daemon=True)
    t.start()
    t.join(0.2)
    assert got == []
    q.done("k")
    t.join(1.0)
    assert got == ["k"]
    q.shutdown()


def test_informer_cache_takes_only_newer_objects():
    seen: list[tuple] = []
    inf = Informer(None, "/x", lambda o, n: seen.append((o and o["metadata"]["resourceVersion"],  # type: ignore[arg-type]
                                                         n and n["metadata"]["resourceVersion"])), name="t")
    inf.apply({"metadata": {"name": "a", "resourceVersion": "5"}})
    inf.apply({"metadata": {"name": "a", "resourceVersion": "4"}})  # an older watch event after our write
    inf.apply({"metadata": {"name": "a", "resourceVersion": "7"}})
    inf.forget("a")
    assert seen == [(None, "5"), ("5", "7"), ("7", None)]


def test_informer_keeps_an_object_deleted_after_our_write_deleted():
    # The simulator writes through its cache (apply) from a worker thread while the watch thread
    # applies events. Seen in CI: the render controller created a rendered config, the garbage
    # collector deleted it at once (its owner pool was gone), the watch delivered ADDED then
    # DELETED, and only then did the worker apply its create response: the cache held a config the
    # API no longer had, for good, and the next pool with that content targeted a config that
    # never came back (the install's wait hung). A deletion is newer than the write it follows.
    inf = Informer(None, "/x", lambda o, n: None, name="t")  # type: ignore[arg-type]
    created = {"metadata": {"name": "rendered-x", "resourceVersion": "10"}}
    inf.apply(created)  # the watch's ADDED
    inf.forget("rendered-x", {"metadata": {"name": "rendered-x", "resourceVersion": "11"}})  # DELETED
    inf.apply(created)  # the worker's own create response, late
    assert inf.get("rendered-x") is None
    inf.apply({"metadata": {"name": "rendered-x", "resourceVersion": "12"}})  # created again: newer
    assert inf.get("rendered-x")["metadata"]["resourceVersion"] == "12"


def test_informer_relist_drops_what_the_list_no_longer_has_for_good():
    inf = Informer(None, "/x", lambda o, n: None, name="t")  # type: ignore[arg-type]
    pool = {"metadata": {"name": "kata-oc", "resourceVersion": "20"}}
    inf.apply(pool)
    inf._replace([], "25")  # relisted at 25: deleted meanwhile
    inf.apply(pool)  # a late write response of the deleted pool
    assert inf.get("kata-oc") is None


def test_go_json_offsets():
    raw, off = ignition.go_json({"b": [1, {"c": "<&>"}], "a": True})
    assert raw == b'{"a":true,"b":[1,{"c":"\\u003c\\u0026\\u003e"}]}'
    assert raw[off[("b", 1, "c")]:].startswith(b'"\\u003c')
    assert off[("a",)] == 5


def pod(**spec) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "ownerReferences": spec.pop("owners", [])},
            "spec": {"containers": [{"name": "c1", "image": "r.invalid/x/y:1"}, {"name": "c2", "image": "y"}], **spec},
            "status": {"phase": "Pending", "qosClass": "Burstable", "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"}]}}


def test_pod_status_shapes():
    p = pod()
    run = podstatus.running(p, "10.0.0.10", "10.128.0.5", "T1")
    assert run["phase"] == "Running" and run["podIP"] == "10.128.0.5" and run["hostIP"] == "10.0.0.10"
    conds = {c["type"]: c for c in run["conditions"]}
    assert {t: c["status"] for t, c in conds.items()} == {"PodReadyToStartContainers": "True", "Initialized": "True",
                                                          "Ready": "True", "ContainersReady": "True",
                                                          "PodScheduled": "True"}
    assert conds["PodScheduled"]["lastTransitionTime"] == "T0"
    assert all(c["ready"] and c["containerID"].startswith("cri-o://") and "running" in c["state"]
               for c in run["containerStatuses"])
    assert run["containerStatuses"][0]["imageID"].startswith("r.invalid/x/y@sha256:")
    failed = podstatus.sandbox_failed(p, "10.0.0.10", "T1")
    conds = {c["type"]: c for c in failed["conditions"]}
    assert failed["phase"] == "Pending" and "podIP" not in failed
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [c1 c2]"
    assert conds["PodReadyToStartContainers"]["status"] == "False"
    assert {c["state"]["waiting"]["reason"] for c in failed["containerStatuses"]} == {"ContainerCreating"}
    done = podstatus.terminated({**p, "status": run}, "10.0.0.10", "T2", 0)
    assert done["phase"] == "Succeeded" and done["podIP"] == "10.128.0.5"
    assert done["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert podstatus.terminated(p, "h", "T2", 3)["phase"] == "Failed"
    assert podstatus.sandbox_event_message("boom") == ("Failed to create pod sandbox: rpc error: code = Unknown "
                                                       "desc = boom")


def test_pod_kinds_and_completion():
    ds = pod(owners=[{"kind": "DaemonSet", "controller": True, "name": "d"}])
    job = pod(owners=[{"kind": "Job", "controller": True, "name": "j"}])
    assert not podstatus.evictable(ds) and podstatus.evictable(job) and podstatus.evictable(pod())
    assert podstatus.completes_after(job, 2.0) == (2.0, 0)
    assert podstatus.completes_after(pod(), 2.0) is None
    p = pod()
    p["metadata"]["annotations"] = {"sim.sandboxed.containers/complete-after-seconds": "1",
                                    "sim.sandboxed.containers/exit-code": "2"}
    assert podstatus.completes_after(p, 9) == (1.0, 2)
    assert podstatus.allocate_ip("10.128.2.0/23", {"10.128.2.2"}) == "10.128.2.3"
    # a node registered without addresses: no host IP rather than an invalid one
    assert "hostIP" not in podstatus.running(p, "", "10.128.0.5", "T1")
    assert "podIP" not in podstatus.running({**p, "spec": {**p["spec"], "hostNetwork": True}}, "", "x", "T1")


def test_nodes_of_topologies_and_lifecycle_taints():
    assert [n[0] for n in node_names("standard", 2)] == ["master-0", "master-1", "master-2", "worker-0", "worker-1"]
    # compact and sno may have dedicated workers too (contract: CLUSTER_WORKERS defaults to 0 there)
    assert node_names("compact", 0) == [(f"master-{i}", ("master", "worker")) for i in range(3)]
    assert node_names("sno", 0) == [("master-0", ("master", "worker"))]
    assert [n for n, _roles in node_names("sno", 2, infra=1)] == ["master-0", "worker-0", "worker-1", "infra-0"]
    assert node_names("standard", 0, infra=2)[-1] == ("infra-1", ("worker", "infra"))
    n = build_node("worker-4", ("worker",), 4, virt=False)
    labels = n["metadata"]["labels"]
    assert labels["topology.kubernetes.io/zone"] == "us-east-1b" and "node-role.kubernetes.io/worker" in labels
    assert "feature.node.kubernetes.io/runtime.kata" not in labels
    assert build_node("w", ("worker",), 0)["metadata"]["labels"]["feature.node.kubernetes.io/runtime.kata"] == "true"
    n["spec"]["taints"] = [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
    assert lifecycle.wanted_taints(n) == []
    assert lifecycle.wanted_taints({**n, "spec": {}}) is None
    for c in n["status"]["conditions"]:
        if c["type"] == "Ready":
            c["status"] = "Unknown"
    assert lifecycle.wanted_taints(n) == [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]
