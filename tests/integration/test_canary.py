"""Canary, then waves: the chosen nodes move into the custom pool a few at a time, and the first failure stops it."""

from __future__ import annotations

import pytest
from test_install import Output

from playbook import VERIFY_IMAGE
from sim import testing as st
from support import kata_pods, snapshot

POOL_LABEL = "node-role.kubernetes.io/kata-oc"
SELECTOR = {"matchLabels": {"sandboxed": "yes"}}
WORKERS = ["worker-0", "worker-1", "worker-2"]


def in_pool(api) -> list[str]:
    return sorted(n["metadata"]["name"] for n in st.nodes(api) if POOL_LABEL in (n["metadata"].get("labels") or {}))


def node_metadata(api, names: list[str]) -> dict:
    """Labels and annotations of these nodes, without what the simulator rewrites on its own."""
    nodes = snapshot(api)["nodes"]
    return {name: nodes[name] for name in names}


def choose_every_worker(api) -> None:
    for name in WORKERS:
        st.label_node(api, name, {"sandboxed": "yes"})


def test_a_fault_on_the_canary_stops_before_any_other_node_and_a_rerun_completes_with_one_reboot_each(
        cluster, ansible, fresh):
    api = fresh
    choose_every_worker(api)
    st.configure(api, node_update=3)  # the fault must strike the canary during its update
    others = node_metadata(api, ["worker-1", "worker-2"])
    fault = "simulated disk failure while writing /etc/crio/crio.conf.d/51-sandboxed-containers"
    settings = {"sandboxed_containers_node_selector": SELECTOR, "sandboxed_containers_canary": 1,
                "sandboxed_containers_wave_size": 1}
    with Output(ansible.start("install", extra_vars={**settings, "sandboxed_containers_wait_timeout": 1800})) as run:
        st.wait_for(lambda: in_pool(api), 120, what="the canary to move into the pool")
        assert in_pool(api) == ["worker-0"]
        st.set_fault(api, "worker-0", fault)
        assert run.finish(300) != 0, run.text
    text = run.text
    # It names the wave, the failing node and its reason, and the waves it did not start.
    assert "stopped in the canary (worker-0)" in text, text[-3000:]
    assert f"node worker-0 is Degraded: {fault}" in text, text[-3000:]
    assert "not moved: wave 1 (worker-1), wave 2 (worker-2)" in text, text[-3000:]
    assert "timed out" not in text, text[-3000:]
    # No other node was touched: not moved, not rebooted, not labelled.
    assert in_pool(api) == ["worker-0"]
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 0, "worker-1": 0, "worker-2": 0}
    assert node_metadata(api, ["worker-1", "worker-2"]) == others
    # Once the fault clears (and the MCO says so), a re-run resumes with the same canary and completes.
    st.clear_fault(api, "worker-0")
    st.wait_for(lambda: not st.is_degraded(st.pool(api, "kata-oc")), 120, what="the pool to recover")
    r = ansible.run("install", extra_vars=settings)
    assert r.rc == 0, r
    assert "canary: worker-0 (in the pool already); wave 1: worker-1; wave 2: worker-2" in r.text
    assert in_pool(api) == WORKERS
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}
    assert r.report["installed"] is True
    # Once more with the same settings: nothing to do, nothing changes.
    again = ansible.run("install", extra_vars=settings)
    assert again.rc == 0, again
    assert again.changed == 0, again
    assert st.reboots(api)["worker-0"] == 1


def test_a_verify_pod_that_fails_on_the_canary_stops_the_install_before_the_waves(cluster, ansible, fresh):
    api = fresh
    choose_every_worker(api)
    # A "kata" that is not Kata on the canary: the node updates fine, but its pods run on the node's own kernel.
    st.runs_native(api, "worker-0")
    settings = {"sandboxed_containers_node_selector": SELECTOR, "sandboxed_containers_canary": 1,
                "sandboxed_containers_canary_verify": True, "sandboxed_containers_verify_image": VERIFY_IMAGE}
    r = ansible.run("install", extra_vars=settings)
    assert r.rc != 0, r
    assert "sandboxed pods do not run on worker-0: the pod ran on the node's own kernel" in r.text, r
    assert "It stopped in the canary (worker-0); not moved: wave 1 (worker-1, worker-2)." in r.text, r
    assert in_pool(api) == ["worker-0"]
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 0, "worker-2": 0}
    assert kata_pods(api) == []
    # Fixed, a re-run verifies the canary again and moves the rest.
    st.runs_in_vm(api, "worker-0")
    r = ansible.run("install", extra_vars=settings)
    assert r.rc == 0, r
    assert "worker-0: runs sandboxed pods in a VM" in r.text, r
    assert in_pool(api) == WORKERS
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}


def test_on_the_worker_path_the_waves_follow_the_canary_once_it_has_rebooted(cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=1.5)
    seen: list[tuple[list[str], dict[str, int]]] = []
    with Output(ansible.start("install", extra_vars={"sandboxed_containers_canary": 1})) as run:
        # What the pool holds, beside the reboot counts, as the install goes.
        while run.proc.poll() is None:
            seen.append((in_pool(api), st.reboots(api)))
        assert run.finish(60) == 0, run.text
    moved = [(pool, reboots) for pool, reboots in seen if pool]
    assert moved, seen
    assert moved[0][0] == ["worker-0"], moved[0]
    # Nothing else moved before the canary had rebooted.
    assert all(reboots["worker-0"] == 1 for pool, reboots in moved if pool != ["worker-0"]), moved
    assert in_pool(api) == WORKERS
    assert st.pool(api, "worker")["status"]["machineCount"] == 0
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}


def test_check_mode_prints_the_waves_and_changes_nothing(cluster, ansible, fresh):
    api = fresh
    choose_every_worker(api)
    before = snapshot(api)
    r = ansible.run("install", check=True, extra_vars={"sandboxed_containers_node_selector": SELECTOR,
                                                       "sandboxed_containers_canary": 1,
                                                       "sandboxed_containers_wave_size": "50%"})
    assert r.rc == 0, r
    assert ("Nodes move into pool kata-oc in waves, each waited for before the next moves: canary: worker-0; "
            "wave 1: worker-1; wave 2: worker-2.") in r.text
    assert r.report["plan"]["reboot"] == WORKERS
    assert snapshot(api) == before


def test_on_the_worker_path_a_canary_takes_the_custom_pool_with_every_worker(cluster, ansible, fresh):
    api = fresh
    before = snapshot(api)
    r = ansible.run("install", check=True, extra_vars={"sandboxed_containers_canary": 1})
    assert r.rc == 0, r
    assert ("sandboxed_containers_canary and sandboxed_containers_wave_size need a custom pool: every worker "
            "(worker-0, worker-1, worker-2) is chosen through pool kata-oc") in r.text
    assert "Would install on worker-0, worker-1, worker-2 through pool kata-oc" in r.text
    assert "canary: worker-0; wave 1: worker-1, worker-2." in r.text
    assert snapshot(api) == before


@pytest.mark.parametrize(("extra_vars", "message"), [
    ({"sandboxed_containers_canary": 4},
     "sandboxed_containers_canary 4 is larger than the 3 chosen nodes (worker-0, worker-1, worker-2); allowed: 0 to 3"),
    ({"sandboxed_containers_wave_size": "150%"},
     "sandboxed_containers_wave_size '150%' is not allowed: give a number of nodes (1 or more"),
    ({"sandboxed_containers_wave_size": 0}, "sandboxed_containers_wave_size 0 is not allowed"),
    ({"sandboxed_containers_canary": -1}, "sandboxed_containers_canary -1 is not allowed"),
    ({"sandboxed_containers_canary": 1, "sandboxed_containers_canary_verify": True},
     "sandboxed_containers_canary_verify: set the verify image (sandboxed_containers_verify_image)"),
], ids=["canary-too-large", "percentage-over-100", "wave-zero", "canary-negative", "verify-without-image"])
def test_a_bad_canary_or_wave_size_is_refused_before_any_change(cluster, ansible, fresh, extra_vars, message):
    api = fresh
    choose_every_worker(api)
    before = snapshot(api)
    r = ansible.run("install", extra_vars={"sandboxed_containers_node_selector": SELECTOR, **extra_vars})
    assert r.rc != 0, r
    assert message in r.text, r
    assert "Nothing was changed" in r.text, r
    assert snapshot(api) == before
