"""`make bench`: the install against the rollout floor, beside a plain kubernetes.core baseline.

    PYTHONPATH=tests/cluster .venv/bin/python -m bench [--workers 3,20,100] [--max-unavailable 1,25%] ...

Starts (or reuses) a local cluster in --cluster-dir, measures every case with both tools, prints a
table and writes --out (JSON), --plot (PNG) and the raw timelines under bench/out/. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench.cases import REPO, Env, floor_seconds, measure
from bench.report import plot, print_growth, print_table
from localcluster import LocalCluster, Settings


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def aggregate(runs: list[dict]) -> dict:
    """One object per case: the figures of the run with the median wall time, plus every run's times."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    case = dict(ordered[(len(ordered) - 1) // 2])
    case["repeats"] = len(runs)
    case["rerun_s_runs"] = [t for r in runs for t in r["rerun_s_each"]]
    for key in ("wall_s", "overhead_s", "api_requests_wait", "api_requests_install"):
        case[f"{key}_runs"] = [r[key] for r in runs]
    case["rerun_s"] = round(statistics.median(t for r in runs for t in r["rerun_s_each"]), 2)
    case["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    case["peak_pss_mb"] = max(r["peak_pss_mb"] for r in runs)
    case["reboots_same_in_every_run"] = all(
        (r["reboots_chosen"], r["reboots_other"]) == (runs[0]["reboots_chosen"], runs[0]["reboots_other"])
        for r in runs)
    case["returned_early_runs"] = [r["returned_early"] for r in runs]
    # Each run's own figure, and its median: it does not follow the run with the median wall time.
    for key in ("first_ready_s", "first_ready_after_mc_s"):
        values = [r.get(key) for r in runs]
        case[f"{key}_runs"] = values
        if None not in values:
            case[key] = round(statistics.median(values), 2)
    return case


def ansible_floor(env: Env, label: str, runs: int = 3) -> float:
    """The median wall time of bench/empty.yml (one task): what ansible-playbook itself costs on this machine
    today, whatever the playbook does. Reported beside the overhead; the target is not changed by it."""
    walls = []
    for i in range(runs):
        run = env.run_playbook(REPO / "bench" / "empty.yml", f"empty-{label}-{i}")
        if run.rc != 0:
            raise SystemExit(f"bench/empty.yml failed (exit {run.rc}); see {run.log}")
        walls.append(run.wall_s)
    return round(statistics.median(walls), 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="3,20,100", help="worker counts (default: %(default)s)")
    ap.add_argument("--max-unavailable", default="1,25%", help="worker pool maxUnavailable (default: %(default)s)")
    ap.add_argument("--tools", default="collection,baseline")
    ap.add_argument("--node-update", type=float, default=1.0, help="SIM_NODE_UPDATE_SECONDS (default: 1)")
    ap.add_argument("--render-delay", type=float, default=5.0, help="the MCO's render delay (default: 5)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the median is reported (default: 3)")
    ap.add_argument("--repeat-large", type=int, default=1,
                    help="runs per case whose floor is over --large-floor seconds (default: 1)")
    ap.add_argument("--large-floor", type=float, default=60.0)
    ap.add_argument("--reruns", type=int, default=3, help="no-op re-runs after each install (default: 3)")
    ap.add_argument("--growth-workers", type=int, default=20,
                    help="N of the wait-length series (mu=1); 0 skips it (default: 20)")
    ap.add_argument("--growth-node-update", type=float, default=3.0,
                    help="the longer node update time of that series (default: 3)")
    ap.add_argument("--cluster-dir", type=Path, default=REPO / ".cluster-bench")
    ap.add_argument("--keep-cluster", action="store_true", help="leave the cluster running at the end")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    ap.add_argument("--plot", type=Path, default=REPO / "bench" / "rollout.png")
    ap.add_argument("--work-dir", type=Path, default=REPO / "bench" / "out",
                    help="logs and timelines (not committed)")
    args = ap.parse_args(argv)

    tools = _csv(args.tools)
    started = time.monotonic()
    local = LocalCluster(args.cluster_dir)
    ours = local.up(Settings(topology="standard", workers=3, render_delay=args.render_delay,
                             node_update=args.node_update))
    try:
        env = Env(args.cluster_dir.resolve(), args.work_dir / "logs", args.render_delay)
        env.bind_automation()
        plan = [(n, mu, args.node_update) for n in map(int, _csv(args.workers)) for mu in _csv(args.max_unavailable)]
        if args.growth_workers and (args.growth_workers, "1", args.growth_node_update) not in plan:
            if (args.growth_workers, "1", args.node_update) not in plan:
                plan.append((args.growth_workers, "1", args.node_update))
            plan.append((args.growth_workers, "1", args.growth_node_update))
        cases = []
        for n, mu, t in plan:
            floor = floor_seconds(n, mu, t, args.render_delay)
            repeat = args.repeat_large if floor > args.large_floor else args.repeat
            runs: dict[str, list[dict]] = {tool: [] for tool in tools}
            ansible = ansible_floor(env, f"n{n}-mu{mu.replace('%', 'pct')}-t{t:g}")
            for i in range(repeat):
                for tool in tools:  # interleaved, so load from others hits both tools alike
                    load = os.getloadavg()[0]
                    label = f"{tool}-n{n}-mu{mu.replace('%', 'pct')}-t{t:g}-{i}"
                    print(f"[{time.monotonic() - started:6.0f} s] {label} (floor {floor:.0f} s, load {load:.1f})",
                          flush=True)
                    r = measure(env, tool, n, mu, t, label, args.reruns)
                    r["load_avg_1m"] = round(load, 2)
                    r["ansible_floor_s"] = ansible
                    r["overhead_over_ansible_s"] = round(r["overhead_s"] - ansible, 2)
                    runs[tool].append(r)
                    print(f"         wall {r['wall_s']} s, overhead {r['overhead_s']} s, re-run {r['rerun_s']} s, "
                          f"requests {r['api_requests_install']} ({r['api_requests_wait']} in the wait), "
                          f"early {r['returned_early']}", flush=True)
            cases += [aggregate(rs) for rs in runs.values()]
    finally:
        if ours and not args.keep_cluster:
            local.down()

    keys = ("tool", "workers", "max_unavailable", "node_update_s", "floor_s", "mc_written_s", "all_updated_s")
    timelines = [{k: c[k] for k in keys} | c.pop("timeline") for c in cases]
    args.work_dir.mkdir(parents=True, exist_ok=True)
    (args.work_dir / "timelines.json").write_text(json.dumps(timelines) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(cases, indent=1) + "\n")
    print_table([c for c in cases if c["node_update_s"] == args.node_update])
    print_growth(cases, args.growth_workers)
    plot(timelines, args.plot)
    print(f"\nwrote {args.out}, {args.plot} and {args.work_dir}; took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
