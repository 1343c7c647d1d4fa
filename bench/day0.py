"""`make bench-day0`: sandboxed containers at day 0 (the rendered manifests in the cluster before its nodes) beside
day 1 (the install on a running cluster), per worker count.

    PYTHONPATH=tests/cluster .venv/bin/python -m bench.day0 [--workers 3,20,100] [--out bench/day0.json]

Day 0: the render writes the manifests (playbooks/render.yml); the simulated cluster is reset with them created
before its nodes, so each node boots the first rendered config, the MachineConfig in it, as after the firstboot
pivot; then the install runs, as a pipeline runs it once the cluster is up (it labels the ready nodes, reboots
nothing). Day 1: the same install on a cluster without them (bench.cases.measure). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import yaml
from kubernetes import client

from bench.cases import MC_NAME, REPO, Env, measure
from bench.observe import Rollout
from localcluster import LocalCluster, Settings
from sim import testing as st

RENDER = REPO / "playbooks" / "render.yml"
INSTALL = REPO / "playbooks" / "install.yml"


def rendered_objects(env: Env, label: str) -> list[dict]:
    """The manifests as openshift-install would get them: playbooks/render.yml with the default settings."""
    with tempfile.TemporaryDirectory(prefix="sandboxed-day0-") as tmp:
        run = env.run_playbook(RENDER, f"{label}-render", {"sandboxed_containers_render_dir": tmp})
        if run.rc != 0:
            raise RuntimeError(f"render failed (rc={run.rc}); see {run.log}")
        return [d for f in sorted(Path(tmp).iterdir()) for d in yaml.safe_load_all(f.read_text()) if d]


def joined_at(rollout: Rollout, node: str, since: float) -> float | None:
    """When the node (re-created by the reset) was first seen after `since`."""
    with rollout._lock:
        return next((e[0] for e in rollout.node_states.get(node) or [] if e[0] >= since), None)


def done_at(rollout: Rollout, node: str, since: float) -> float | None:
    """When the node, from `since` on, was first Done on a rendered config with the MachineConfig (a node of the
    same name before the reset may have been so too, on the same rendered config)."""
    with rollout._lock:
        return next((t for t, cfg, state, _labels in rollout.node_states.get(node) or []
                     if t >= since and cfg in rollout.targets and state == "Done"), None)


def measure_day0(env: Env, workers: int, node_update: float, label: str) -> dict:
    """A cluster whose nodes join with the manifests already in its first rendered config, then the install."""
    manifests = rendered_objects(env, label)
    with contextlib.suppress(client.ApiException):  # the day before's; the manifests create it again
        client.NodeV1Api(env.kube.api).delete_runtime_class("kata")
    chosen = [f"worker-{i}" for i in range(workers)]
    rollout = Rollout(env.kube, "worker", MC_NAME, chosen).start()
    t_reset = time.time()
    st.reset(env.kube, workers=workers, node_update=node_update, render_delay=env.render_delay, manifests=manifests)
    st.wait_for(lambda: all(done_at(rollout, n, t_reset) for n in chosen), 30, what="every node seen Done")
    done = {n: done_at(rollout, n, t_reset) for n in chosen}
    if None in done.values():
        raise RuntimeError(f"day 0: nodes not Done on a rendered config with {MC_NAME}: "
                           f"{sorted(n for n, t in done.items() if t is None)}")
    join_to_done = [done[n] - (joined_at(rollout, n, t_reset) or t_reset) for n in chosen]
    run = env.run_playbook(INSTALL, f"{label}-install")
    rollout.stop()
    if run.rc != 0:
        raise RuntimeError(f"install after day 0 failed (rc={run.rc}); see {run.log}")
    t_ready = rollout.first_ready(run.t0)
    reboots = st.reboots(env.kube)
    return {
        "tool": "collection-day0", "workers": workers, "node_update_s": node_update,
        "render_delay_s": env.render_delay,
        # From a node's registration to its daemon Done on the config with the MachineConfig: the firstboot
        # pivot has already applied it (on a real node before the kubelet first registers), so no update follows.
        "join_to_done_s_first": round(min(join_to_done), 2), "join_to_done_s_last": round(max(join_to_done), 2),
        # The install a pipeline runs once the cluster is up: until the first node carries the handler label (a
        # sandboxed pod can be scheduled), and its whole run.
        "first_ready_s": round(t_ready - run.t0, 2) if t_ready else None,
        "install_wall_s": round(run.wall_s, 2),
        "reboots_chosen": [reboots[n] for n in chosen],
        "reboots_other": [v for n, v in sorted(reboots.items()) if n not in chosen],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.day0", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="3,20,100")
    ap.add_argument("--node-update", type=float, default=1.0)
    ap.add_argument("--render-delay", type=float, default=5.0)
    ap.add_argument("--cluster-dir", type=Path, default=REPO / ".cluster-bench")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "day0.json")
    ap.add_argument("--work-dir", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args(argv)

    local = LocalCluster(args.cluster_dir)
    ours = local.up(Settings(topology="standard", workers=3, render_delay=args.render_delay,
                             node_update=args.node_update))
    cases = []
    try:
        env = Env(args.cluster_dir.resolve(), args.work_dir / "logs", args.render_delay)
        env.bind_automation()
        for n in (int(x) for x in args.workers.split(",") if x.strip()):
            day0 = measure_day0(env, n, args.node_update, f"day0-n{n}")
            day1 = measure(env, "collection", n, "1", args.node_update, f"day1-n{n}", reruns_count=1)
            day0["day1_first_ready_s"] = day1["first_ready_s"]
            day0["day1_first_ready_after_mc_s"] = day1["first_ready_after_mc_s"]
            day0["day1_wall_s"] = day1["wall_s"]
            day0["day1_reboots_chosen"] = day1["reboots_chosen"]
            day0["reboots_saved_per_node"] = (sum(day1["reboots_chosen"]) - sum(day0["reboots_chosen"])) / n
            cases.append(day0)
            print(json.dumps(day0), flush=True)
    finally:
        if ours:
            local.down()
    args.out.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
