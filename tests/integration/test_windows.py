"""Maintenance windows: an install staged with the pool paused, resumed by a later run (issue 14, item 4)."""

from __future__ import annotations

from sim import testing as st
from support import MC_NAME, handler_nodes, snapshot

PAUSED_BY = "sandboxed.containers/paused-by-collection"
STAGED = {"sandboxed_containers_rollout": "staged"}
WORKERS = ["worker-0", "worker-1", "worker-2"]
NO_REBOOT = dict.fromkeys(["master-0", "master-1", "master-2", *WORKERS], 0)
# Another change staged beside ours while the pool is paused, as a cluster upgrade's MachineConfigs would be.
OTHER_MC = "99-worker-maintenance-window"


def _sources(pool: dict, where: str = "spec") -> set[str]:
    return {s["name"] for s in ((pool.get(where) or {}).get("configuration") or {}).get("source") or []}


def _paused_by_collection(api, name: str) -> bool:
    pool = st.pool(api, name)
    return bool(pool["spec"].get("paused")) and PAUSED_BY in (pool["metadata"].get("annotations") or {})


def test_staged_then_resumed_reboots_each_chosen_node_once_for_both_changes(cluster, ansible, fresh):
    api = fresh
    r = ansible.run("install", extra_vars=STAGED)
    assert r.rc == 0, r
    # Staged with the pool paused: nothing rebooted, the pool targets a rendered config with our MachineConfig.
    assert st.reboots(api) == NO_REBOOT
    assert _paused_by_collection(api, "worker")
    assert MC_NAME in _sources(st.pool(api, "worker"))
    assert handler_nodes(api) == []
    assert "staged, pool paused" in r.text
    assert "worker-0, worker-1, worker-2 reboot once when pool worker resumes" in r.text
    assert r.report["staged"] == {"worker": ["worker-0", "worker-1", "worker-2"]}
    s = ansible.run("status")
    assert s.rc == 0, s
    assert "Staged, pool paused: pool worker was paused by the collection" in s.text
    # Another change staged beside ours: the MCO renders it into the paused pool, and nothing reboots.
    st.create_mc(api, st.machine_config(OTHER_MC, "worker", files={"/etc/maintenance-window": "staged\n"}))
    st.wait_for(lambda: {MC_NAME, OTHER_MC} <= _sources(st.pool(api, "worker")), 30, what="both rendered")
    assert st.reboots(api) == NO_REBOOT
    # Resumed: each chosen node rebooted exactly once for both changes.
    r = ansible.run("install")
    assert r.rc == 0, r
    assert "resumes pool worker" in r.text
    assert st.reboots(api) == {**NO_REBOOT, **dict.fromkeys(WORKERS, 1)}
    pool = st.pool(api, "worker")
    assert not pool["spec"].get("paused")
    assert PAUSED_BY not in (pool["metadata"].get("annotations") or {})
    assert {MC_NAME, OTHER_MC} <= _sources(pool, "status")
    assert handler_nodes(api) == WORKERS
    assert r.report["staged"] == {}


def test_staging_is_refused_while_the_pool_rolls_out_for_someone_else(cluster, ansible, fresh):
    api = fresh
    st.hang(api, "worker-0", "apply")  # holds the other rollout while the run looks at the pool
    st.create_mc(api, st.machine_config(OTHER_MC, "worker", files={"/etc/maintenance-window": "other\n"}))
    st.wait_condition(api, "worker", "Updating", "True", timeout=30)
    r = ansible.run("install", extra_vars=STAGED)
    assert r.rc != 0, r
    assert "pool worker is rolling out rendered-worker-" in r.text
    assert "Updating" in r.text
    assert "sandboxed_containers_rollout: staged" in r.text
    # Refused by the preflight: nothing changed.
    assert not st.pool(api, "worker")["spec"].get("paused")
    assert MC_NAME not in _sources(st.pool(api, "worker"))
    st.unhang(api, "worker-0")


def test_uninstall_resumes_a_pool_the_collection_paused_and_refuses_one_paused_by_someone_else(
        cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install", extra_vars=STAGED).rc == 0
    # Paused by someone else too (the collection's mark gone): the uninstall refuses, naming the pool.
    st.kube(api).merge_patch(st.mcp_path("worker"), {"metadata": {"annotations": {PAUSED_BY: None}}})
    r = ansible.run("uninstall")
    assert r.rc != 0, r
    assert "pool worker" in r.text and "is paused" in r.text
    assert st.pool(api, "worker")["spec"]["paused"] is True
    # Paused by the collection: the uninstall resumes it and removes the staged change; the nodes never had it.
    st.kube(api).merge_patch(st.mcp_path("worker"), {"metadata": {"annotations": {PAUSED_BY: "install"}}})
    r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert "resumes pool worker" in r.text
    pool = st.pool(api, "worker")
    assert not pool["spec"].get("paused")
    assert PAUSED_BY not in (pool["metadata"].get("annotations") or {})
    assert MC_NAME not in _sources(pool, "status")
    assert st.reboots(api) == NO_REBOOT


def test_staged_on_a_custom_pool_the_chosen_nodes_move_in_and_reboot_once_when_it_resumes(cluster, ansible, fresh):
    api = fresh
    selector = {"sandboxed_containers_node_selector": {"matchLabels": {"sandboxed": "yes"}}}
    st.label_node(api, "worker-0", {"sandboxed": "yes"})
    st.label_node(api, "worker-2", {"sandboxed": "yes"})
    r = ansible.run("install", extra_vars={**selector, **STAGED})
    assert r.rc == 0, r
    # The pool was paused before any node moved into it: they are in it, on their old config, and none rebooted.
    assert _paused_by_collection(api, "kata-oc")
    assert not st.pool(api, "worker")["spec"].get("paused")  # the other workers are not held
    st.wait_for(lambda: st.pool_machines(api, "kata-oc") == 2, 30, what="the chosen nodes in kata-oc")
    assert st.reboots(api) == NO_REBOOT
    assert r.report["staged"] == {"kata-oc": ["worker-0", "worker-2"]}
    r = ansible.run("install", extra_vars=selector)
    assert r.rc == 0, r
    assert st.reboots(api) == {**NO_REBOOT, "worker-0": 1, "worker-2": 1}
    assert not st.pool(api, "kata-oc")["spec"].get("paused")
    assert handler_nodes(api) == ["worker-0", "worker-2"]


def test_a_resumed_run_that_also_changes_the_machine_config_reboots_each_node_once(cluster, ansible, fresh):
    api = fresh
    r = ansible.run("install", extra_vars={**STAGED, "sandboxed_containers_crio_runtime_root": "/run/vc-old"})
    assert r.rc == 0, r
    assert st.reboots(api) == NO_REBOOT
    # The drop-in changes in the run that resumes: the pool resumes only once it targets the new render, so the
    # nodes go straight to it instead of taking the staged config first and rebooting again.
    r = ansible.run("install")
    assert r.rc == 0, r
    assert st.reboots(api) == {**NO_REBOOT, **dict.fromkeys(WORKERS, 1)}
    assert handler_nodes(api) == WORKERS


def test_staging_in_check_mode_changes_nothing_and_a_second_staged_run_changes_nothing(cluster, ansible, fresh):
    api = fresh
    before = snapshot(api)
    r = ansible.run("install", extra_vars=STAGED, check=True, diff=True)
    assert r.rc == 0, r
    assert "staged, pool paused: the collection pauses pool worker" in r.text
    assert "Staged, no node reboots now." in r.text
    assert snapshot(api) == before
    assert ansible.run("install", extra_vars=STAGED).rc == 0
    staged = snapshot(api)
    r = ansible.run("install", extra_vars=STAGED)
    assert r.rc == 0, r
    assert r.changed == 0, r
    assert snapshot(api) == staged
    assert st.reboots(api) == NO_REBOOT
    assert "worker-0, worker-1, worker-2 reboot once when pool worker resumes" in r.text


def test_pool_pause_resumes_only_what_the_collection_paused_and_never_takes_over_someone_elses_pause(
        cluster, ansible, fresh):
    api = fresh
    r = ansible.module("pool_pause", {"pools": ["worker", "kata-oc"], "paused": True})
    assert r.rc == 0 and "CHANGED" in r.output, r
    assert _paused_by_collection(api, "worker")  # kata-oc does not exist: left out
    again = ansible.module("pool_pause", {"pools": ["worker"], "paused": True})
    assert again.rc == 0 and "changed: false" in again.output, again
    assert ansible.module("pool_pause", {"pools": ["worker"], "paused": False}).rc == 0
    assert not st.pool(api, "worker")["spec"].get("paused")
    # Someone else's pause: not taken over, not lifted.
    st.patch_pool_spec(api, "worker", {"paused": True})
    r = ansible.module("pool_pause", {"pools": ["worker"], "paused": True})
    assert r.rc != 0 and "pool worker is paused by someone else" in r.text, r
    r = ansible.module("pool_pause", {"pools": ["worker"], "paused": False})
    assert r.rc == 0 and "pool worker stays paused: someone else paused it" in r.text, r
    assert st.pool(api, "worker")["spec"]["paused"] is True
    st.patch_pool_spec(api, "worker", {"paused": False})
