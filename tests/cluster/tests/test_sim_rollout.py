"""Rollouts as the MCO does them: reboots, maxUnavailable, order, the stale window, pauses."""

from __future__ import annotations

import json
import threading
import time

from sim import testing as st
from sim.constants import CURRENT_CONFIG, DESIRED_CONFIG, STATE
from sim.kube import node_path

WORKERS = {"worker-0", "worker-1", "worker-2"}


def kata_mc(name: str = "50-kata", role: str = "worker") -> dict:
    return st.machine_config(name, role, extensions=["sandboxed-containers"],
                             files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()})


def test_worker_config_reboots_each_worker_once(sim):
    before = st.pool(sim, "worker")
    st.create_mc(sim, kata_mc())
    p = st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert st.reboots(sim) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}
    assert st.machine_count(p) == {"machine": 3, "updated": 3, "ready": 3, "unavailable": 0, "degraded": 0}
    assert p["status"]["configuration"] == p["spec"]["configuration"]
    assert p["spec"]["configuration"]["name"] != before["spec"]["configuration"]["name"]
    assert p["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert p["status"]["observedGeneration"] == p["metadata"]["generation"]
    conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
    assert conds == {"RenderDegraded": "False", "NodeDegraded": "False", "Degraded": "False", "Updated": "True",
                     "Updating": "False"}
    master = st.pool(sim, "master")
    assert master["metadata"]["generation"] == st.wait_pool_converged(sim, "master")["metadata"]["generation"]
    for n in st.nodes(sim, "worker"):
        a = n["metadata"]["annotations"]
        assert a[CURRENT_CONFIG] == p["spec"]["configuration"]["name"] and a[STATE] == "Done"
        assert a["machineconfiguration.openshift.io/lastAppliedDrain"] == f"uncordon-{a[CURRENT_CONFIG]}"
        assert not n["spec"].get("unschedulable")
        assert not any(t["key"] == "UpdateInProgress" for t in n["spec"].get("taints") or [])
        # after the reboot the MCD sets it to "" and the key stays (release-4.15+ daemon.go syncNode)
        assert a["machineconfiguration.openshift.io/post-config-action"] == ""
    # running it again changes nothing
    st.delete_mc(sim, "50-kata")
    st.create_mc(sim, kata_mc())
    time.sleep(1.5)
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert sum(st.reboots(sim).values()) == 3


def test_stale_updated_window_after_a_change(api):
    st.reset(api, render_delay=5, node_update=0.5)
    before = st.pool(api, "worker")
    st.create_mc(api, kata_mc())
    t0 = time.monotonic()
    # For the render delay the pool still says Updated=True for the old config, and
    # its generation has not moved, so "oc wait --for condition=Updated" returns at once.
    stale = []
    while time.monotonic() - t0 < 3.5:
        p = st.pool(api, "worker")
        stale.append(p)
        time.sleep(0.2)
    for p in stale:
        conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
        assert conds["Updated"] == "True" and conds["Updating"] == "False"
        assert p["metadata"]["generation"] == before["metadata"]["generation"]
        assert p["status"]["observedGeneration"] == p["metadata"]["generation"]
        assert p["spec"]["configuration"] == before["spec"]["configuration"]
        assert "50-kata" not in {s["name"] for s in p["spec"]["configuration"]["source"]}
    # then the render moves the spec (generation + 1) and the pool reports the rollout
    p = st.wait_for(lambda: (q := st.pool(api, "worker"))["metadata"]["generation"] > before["metadata"]["generation"]
                    and q, timeout=10, interval=0.05, what="the render")
    elapsed = time.monotonic() - t0
    assert 4.0 < elapsed < 7.0
    p = st.wait_for(lambda: (q := st.pool(api, "worker"))["status"]["observedGeneration"] == q["metadata"]["generation"]
                    and q, timeout=5, interval=0.05, what="the node controller")
    conds = {c["type"]: c for c in p["status"]["conditions"]}
    assert conds["Updated"]["status"] == "False" and conds["Updating"]["status"] == "True"
    target = p["spec"]["configuration"]["name"]
    assert conds["Updating"]["message"] == f"All nodes are updating to MachineConfig {target}"
    assert p["status"]["configuration"] == before["status"]["configuration"]  # the old one until all are done
    st.wait_pool_converged(api, "worker", contains=["50-kata"])


def test_max_unavailable_two(sim):
    st.reset(sim, workers=5, render_delay=1, node_update=1)
    st.patch_pool_spec(sim, "worker", {"maxUnavailable": 2})
    time.sleep(1.2)  # the pool change's own (no-op) render
    with st.pool_samples(sim, "worker") as s:
        st.create_mc(sim, kata_mc())
        st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert s.max_unavailable == 2
    assert s.max_reported == 2
    assert s.max_updating == 2  # two nodes are updated at a time
    assert all(x.unavailable <= 2 for x in s.samples)
    assert sum(1 for a, b in zip(s.samples, s.samples[1:], strict=False) if b.updating == 2 > a.updating) >= 2
    assert set(st.reboots(sim).values()) == {0, 1}
    assert sum(st.reboots(sim).values()) == 5


def test_percent_max_unavailable_rounds_down(sim):
    st.reset(sim, workers=5, render_delay=1, node_update=0.5)
    st.patch_pool_spec(sim, "worker", {"maxUnavailable": "50%"})  # 2.5 -> 2
    time.sleep(1.2)
    with st.pool_samples(sim, "worker") as s:
        st.create_mc(sim, kata_mc())
        st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert s.max_unavailable == 2


def _watch_targets(api, stop: threading.Event, order: list[str]) -> None:
    k = st.kube(api)
    lst = k.get(node_path())
    seen = {n["metadata"]["name"]: n["metadata"]["annotations"].get(DESIRED_CONFIG) for n in lst["items"]}
    from kubernetes.watch.watch import iter_resp_lines

    resp = k.stream(node_path(), {"watch": "1", "resourceVersion": lst["metadata"]["resourceVersion"],
                                  "timeoutSeconds": "30"}, 35)
    for line in iter_resp_lines(resp):
        if stop.is_set():
            return
        obj = json.loads(line)["object"]
        name = obj["metadata"]["name"]
        des = obj["metadata"].get("annotations", {}).get(DESIRED_CONFIG)
        if des != seen.get(name):
            seen[name] = des
            order.append(name)


def test_update_order_by_zone_then_age(sim):
    st.reset(sim, workers=6, render_delay=1, node_update=0.3)
    # zones by index: worker-0 -> us-east-1a (index 3), worker-1 -> b, worker-2 -> c, worker-3 -> a ...
    order: list[str] = []
    stop = threading.Event()
    t = threading.Thread(target=_watch_targets, args=(sim, stop, order), daemon=True)
    t.start()
    time.sleep(0.3)
    st.create_mc(sim, kata_mc())
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    stop.set()
    zones = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in st.nodes(sim)}
    workers = [n for n in order if n.startswith("worker")]
    assert len(workers) == 6
    assert [zones[n] for n in workers] == sorted(zones[n] for n in workers)
    assert workers == sorted(workers, key=lambda n: (zones[n], n))


def test_change_without_reboot(sim):
    with st.pool_samples(sim, "worker") as s:
        st.create_mc(sim, st.machine_config("99-zz-registries", "worker", files={
            "/etc/containers/registries.conf": 'short-name-mode = "enforcing"\n'}))
        p = st.wait_pool_converged(sim, "worker", contains=["99-zz-registries"])
    assert s.max_updating >= 1  # the nodes did go through an update
    assert sum(st.reboots(sim).values()) == 0
    assert max(x.cordoned for x in s.samples) == 0  # no drain either
    assert all(n["metadata"]["annotations"][CURRENT_CONFIG] == p["spec"]["configuration"]["name"]
               for n in st.nodes(sim, "worker"))


def test_identical_render_moves_nothing(sim):
    before = st.pool(sim, "worker")
    st.create_mc(sim, st.machine_config("60-empty", "worker"))
    p = st.wait_pool_converged(sim, "worker", contains=["60-empty"])
    assert p["spec"]["configuration"]["name"] == before["spec"]["configuration"]["name"]
    assert p["metadata"]["generation"] == before["metadata"]["generation"] + 1  # the source list changed
    assert sum(st.reboots(sim).values()) == 0


def test_paused_pool_renders_but_does_not_roll(sim):
    st.patch_pool_spec(sim, "worker", {"paused": True})
    old = st.pool(sim, "worker")["spec"]["configuration"]["name"]
    st.create_mc(sim, kata_mc())
    p = st.wait_for(lambda: (q := st.pool(sim, "worker"))["spec"]["configuration"]["name"] != old
                    and q["status"]["observedGeneration"] == q["metadata"]["generation"] and q,
                    what="the paused pool to render")
    time.sleep(1.5)
    p = st.pool(sim, "worker")
    conds = {c["type"]: c for c in p["status"]["conditions"]}
    assert conds["Updated"]["status"] == "False"
    assert conds["Updating"]["status"] == "False"
    assert conds["Updating"]["message"] == (f"Pool is paused; will not update to MachineConfig "
                                            f"{p['spec']['configuration']['name']}")
    assert sum(st.reboots(sim).values()) == 0
    assert all(n["metadata"]["annotations"][DESIRED_CONFIG] == old for n in st.nodes(sim, "worker"))
    st.patch_pool_spec(sim, "worker", {"paused": False})
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    assert sum(st.reboots(sim).values()) == 3


def test_deleting_the_config_rolls_back(sim):
    base = st.pool(sim, "worker")["spec"]["configuration"]["name"]
    st.create_mc(sim, kata_mc())
    st.wait_pool_converged(sim, "worker", contains=["50-kata"])
    st.delete_mc(sim, "50-kata")
    p = st.wait_pool_converged(sim, "worker", excludes=["50-kata"])
    assert p["spec"]["configuration"]["name"] == base
    assert {n: c for n, c in st.reboots(sim).items() if n in WORKERS} == dict.fromkeys(WORKERS, 2)
