"""The benchmark's pure logic: the rollout floor, the target, the audit log reading, the median case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import aggregate
from bench.cases import PlaybookRun, _first_mc_write, effective_max_unavailable, floor_seconds
from bench.observe import AuditLog, Request, between, first_ready
from bench.report import allowed_overhead, markdown


@pytest.mark.parametrize(("mu", "nodes", "expected"), [
    ("1", 100, 1), ("3", 20, 3),
    ("25%", 100, 25), ("25%", 20, 5),
    ("25%", 3, 1),  # 0.75 rounds down to 0, and the MCO takes at least 1
    ("10%", 15, 1),
])
def test_max_unavailable_scaled_as_the_mco_does(mu: str, nodes: int, expected: int) -> None:
    assert effective_max_unavailable(mu, nodes) == expected


def test_floor_is_the_render_delay_then_one_update_per_batch() -> None:
    assert floor_seconds(100, "1", 1.0, 5.0) == 105.0
    assert floor_seconds(100, "25%", 1.0, 5.0) == 9.0
    assert floor_seconds(20, "3", 2.0, 5.0) == 5.0 + 7 * 2.0  # ceil(20 / 3) batches


def test_allowed_overhead_is_two_seconds_plus_two_percent() -> None:
    assert allowed_overhead(105.0) == pytest.approx(4.1)
    assert allowed_overhead(0.0) == 2.0


def test_first_mc_write_skips_dry_runs_reads_and_other_objects() -> None:
    reqs = [
        Request(1.0, "get", "/apis/machineconfiguration.openshift.io/v1/machineconfigs/50-sandboxed-containers"),
        Request(2.0, "patch", "/apis/machineconfiguration.openshift.io/v1/machineconfigs/50-sandboxed-containers"
                "?dryRun=All&fieldManager=x"),
        Request(3.0, "patch", "/apis/machineconfiguration.openshift.io/v1/machineconfigpools/worker"),
        Request(4.0, "patch", "/apis/machineconfiguration.openshift.io/v1/machineconfigs/50-sandboxed-containers"
                "?fieldManager=x"),
        Request(5.0, "create", "/apis/machineconfiguration.openshift.io/v1/machineconfigs"),
    ]
    assert _first_mc_write(reqs) == 4.0
    assert _first_mc_write(reqs[:3]) is None


def _audit_line(user: str, audit_id: str, stage: str, verb: str = "get") -> str:
    return json.dumps({"user": {"username": user}, "auditID": audit_id, "stage": stage, "verb": verb,
                       "requestURI": f"/api/v1/nodes?id={audit_id}",
                       "requestReceivedTimestamp": "2026-11-27T01:00:00.500000Z"})


def test_audit_log_counts_each_request_of_the_user_once_from_the_mark(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(_audit_line("automation", "a0", "ResponseComplete") + "\n")
    audit = AuditLog(log, "automation")
    audit.mark()  # what was logged before the mark is not this run's
    with open(log, "a") as f:
        f.write(_audit_line("automation", "a1", "ResponseStarted", "watch") + "\n")
        f.write(_audit_line("automation", "a1", "ResponseComplete", "watch") + "\n")  # the same watch
        f.write(_audit_line("automation", "a2", "ResponseComplete") + "\n")
        f.write(_audit_line("admin", "b1", "ResponseComplete") + "\n")  # mentions nobody we count
        f.write(_audit_line("automation-other", "c1", "ResponseComplete") + "\n")  # a prefix is not the user
        f.write('{"user": {"username": "automation"}, "auditID"')  # a line still being written
    got = audit.requests()
    assert [(r.verb, r.uri.split("id=")[1]) for r in got] == [("watch", "a1"), ("get", "a2")]
    assert between(got, got[0].t - 1, got[0].t + 1) == got
    assert between(got, got[0].t + 0.1, got[0].t + 1) == []


def test_breakdown_separates_startup_long_tasks_and_the_rest(tmp_path: Path) -> None:
    events = [
        {"event": "task", "task": "install : Check", "t": 101.5},
        {"event": "end", "task": "install : Check", "t": 102.3},
        {"event": "task", "task": "install : Show", "t": 102.3},
        {"event": "end", "task": "install : Show", "t": 102.35},
        {"event": "task", "task": "install : Wait until the rollout has finished on every node", "t": 102.4},
        {"event": "end", "task": "install : Wait until the rollout has finished on every node", "t": 110.4,
         "attempts": None},
    ]
    run = PlaybookRun(0, 100.0, 111.0, 3.0, 190.0, 110.0, events, tmp_path / "log")
    b = run.breakdown()
    assert b["startup_s"] == 1.5
    assert b["tasks_over_100ms"] == [("Check", 0.8), ("Wait until the rollout has finished on every node", 8.0)]
    assert (b["other_tasks"], b["other_tasks_s"]) == (1, 0.05)
    assert run.task_window("Wait until the rollout has finished on every node") == (102.4, 110.4)
    assert run.wall_s == 11.0


def _run(wall: float, reruns: list[float], reboots: list[int]) -> dict:
    return {"tool": "collection", "workers": 3, "max_unavailable": "1", "node_update_s": 1.0, "floor_s": 8.0,
            "wall_s": wall, "overhead_s": round(wall - 8.0, 2), "ratio": round(wall / 8.0, 3),
            "api_requests_wait": 20, "api_requests_install": 50, "rerun_s_each": reruns,
            "peak_rss_mb": 100 + wall, "peak_pss_mb": 50 + wall, "reboots_chosen": reboots,
            "reboots_other": [0, 0, 0], "returned_early": False, "wait_s": 3.0}


def test_aggregate_reports_the_median_run_and_keeps_every_run() -> None:
    case = aggregate([_run(12.0, [4.0, 4.2], [1, 1, 1]), _run(10.0, [3.0, 9.0], [1, 1, 1]),
                      _run(11.0, [5.0, 4.1], [1, 1, 1])])
    assert case["wall_s"] == 11.0 and case["overhead_s"] == 3.0
    assert case["wall_s_runs"] == [12.0, 10.0, 11.0]
    assert case["rerun_s"] == 4.15  # the median of every re-run, not only the median run's
    assert case["peak_rss_mb"] == 112.0  # the worst run's memory
    assert case["reboots_same_in_every_run"] is True
    assert case["repeats"] == 3
    assert aggregate([_run(10.0, [3.0], [1, 1, 1]), _run(11.0, [3.0], [1, 2, 1])])["reboots_same_in_every_run"] \
        is False


def test_markdown_has_one_row_per_case_and_the_target() -> None:
    case = aggregate([_run(10.0, [3.0], [1, 1, 1])])
    baseline = case | {"tool": "baseline", "returned_early": True, "reboots_chosen": [1, 1, 1]}
    lines = markdown([baseline, case]).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("| collection | 3 | 1 | 8 | 10.0 |")  # the collection first
    assert "| 2.16 |" in lines[2]  # the allowed overhead at a floor of 8 s
    assert lines[3].startswith("| baseline |") and lines[3].endswith("| yes |")


def test_the_wait_tasks_the_benchmark_times_exist():
    """A renamed task would leave the benchmark counting no request in the wait (it did once)."""
    import yaml

    from bench.cases import REPO, WAIT_TASKS

    def names(path):
        out = []
        for task in yaml.safe_load(path.read_text()) or []:
            out.append(task.get("name"))
            for key in ("block", "rescue", "tasks"):
                out += [t.get("name") for t in task.get(key) or []]
        return out

    assert WAIT_TASKS["collection"] in names(REPO / "roles" / "install" / "tasks" / "apply.yml")
    assert WAIT_TASKS["baseline"] in names(REPO / "bench" / "baseline.yml")


def test_pss_is_compared_with_the_baseline_of_the_same_case():
    from bench.report import pss_over_baseline

    def case(tool, n, pss):
        return {"tool": tool, "workers": n, "max_unavailable": "1", "node_update_s": 1.0, "peak_pss_mb": pss}

    cases = [case("collection", 3, 115.0), case("baseline", 3, 100.0), case("baseline", 20, 50.0)]
    assert pss_over_baseline(cases[0], cases) == pytest.approx(0.15)
    assert pss_over_baseline(case("collection", 100, 1.0), cases) is None


def test_the_ansible_floor_is_shown_beside_the_overhead_and_leaves_the_target_alone() -> None:
    case = aggregate([_run(10.0, [3.0], [1, 1, 1])]) | {"ansible_floor_s": 1.55, "overhead_over_ansible_s": 0.45}
    row = markdown([case]).splitlines()[2]
    assert "| 2.0 | 2.16 | 1.55 | 0.45 |" in row  # overhead, target, Ansible floor, overhead over it


def test_the_empty_playbook_of_the_ansible_floor_runs_one_task_on_localhost() -> None:
    import yaml

    from bench.cases import REPO

    play = yaml.safe_load((REPO / "bench" / "empty.yml").read_text())
    assert len(play) == 1 and play[0]["hosts"] == "localhost" and play[0]["gather_facts"] is False
    assert [next(k for k in t if k != "name") for t in play[0]["tasks"]] == ["ansible.builtin.debug"]


def test_first_ready_is_when_the_runtime_class_exists_and_a_selected_node_has_the_handler() -> None:
    targets = {"rendered-worker-new"}
    label = {"sandboxed.containers/handler": "kata"}
    nodes = {
        "worker-0": [(0.0, "rendered-worker-old", "Done", {}), (5.0, "rendered-worker-old", "Working", {}),
                     (9.0, "rendered-worker-new", "Done", {}), (9.5, "rendered-worker-new", "Done", label)],
        "worker-1": [(0.0, "rendered-worker-old", "Done", {}), (12.0, "rendered-worker-new", "Done", label)],
    }
    # The collection: the RuntimeClass first, selecting the handler label, which a node gets once it is updated.
    assert first_ready(1.0, [(2.0, label)], nodes, targets) == 9.5
    # The baseline: its RuntimeClass, selecting every worker, comes after the rollout.
    worker = {"node-role.kubernetes.io/worker": ""}
    nodes_worker = {n: [(t, c, s, {**labels, **worker}) for t, c, s, labels in hist] for n, hist in nodes.items()}
    assert first_ready(1.0, [(13.0, worker)], nodes_worker, targets) == 13.0
    # Not before the run began, and not while the RuntimeClass is deleted.
    assert first_ready(1.0, [(2.0, label), (3.0, None)], nodes, targets) is None
    # Ready already when the run began: at once.
    assert first_ready(10.0, [(2.0, label)], nodes, targets) == 10.0


def test_aggregate_takes_the_median_of_first_ready_over_the_runs() -> None:
    runs = [_run(12.0, [4.0], [1, 1, 1]) | {"first_ready_s": 6.0, "first_ready_after_mc_s": 3.0},
            _run(10.0, [3.0], [1, 1, 1]) | {"first_ready_s": 9.0, "first_ready_after_mc_s": 5.0},
            _run(11.0, [5.0], [1, 1, 1]) | {"first_ready_s": 7.0, "first_ready_after_mc_s": 4.0}]
    case = aggregate(runs)
    assert (case["first_ready_s"], case["first_ready_after_mc_s"]) == (7.0, 4.0)
    assert case["first_ready_s_runs"] == [6.0, 9.0, 7.0]
    assert "| 7.0 (4.0; " in markdown([case])


def test_day0_takes_a_nodes_join_from_its_first_state_after_the_reset() -> None:
    from bench.day0 import done_at, joined_at
    from bench.observe import Rollout

    rollout = Rollout(kube=None, pool="worker", machine_config="50-sandboxed-containers", chosen=["worker-0"])
    # Seen before the reset (the node the reset deletes), then re-created at 10.5 and seeded at 10.6.
    rollout.node_states["worker-0"] = [(1.0, "rendered-worker-a", "Done", {}), (10.5, None, None, {}),
                                       (10.6, "rendered-worker-b", "Done", {})]
    rollout.targets = {"rendered-worker-b"}
    assert joined_at(rollout, "worker-0", since=10.0) == 10.5
    assert done_at(rollout, "worker-0", since=10.0) == 10.6
    rollout.node_states["worker-0"][0] = (1.0, "rendered-worker-b", "Done", {})  # the same config before the reset
    assert done_at(rollout, "worker-0", since=10.0) == 10.6
    assert joined_at(rollout, "worker-0", since=11.0) is None
    assert joined_at(rollout, "worker-1", since=0.0) is None
