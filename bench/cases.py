"""One measured case: a fresh cluster state, a playbook run, a no-op re-run, and what the cluster saw."""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client

from bench.observe import AuditLog, MemorySampler, Request, Rollout, between
from sim import testing as st
from sim.kube import Kube

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
MC_NAME = "50-sandboxed-containers"
USER = "automation"  # the identity both tools run as: its requests in the audit log are theirs alone

PLAYBOOKS = {"collection": REPO / "playbooks" / "install.yml", "baseline": BENCH / "baseline.yml"}
# The task whose window counts as "the wait" in the audit log.
WAIT_TASKS = {"collection": "Wait until the rollout has finished on every node of every pool it touches",
              "baseline": "Wait until the worker pool is updated"}


def effective_max_unavailable(mu: str, nodes: int) -> int:
    """As the MCO scales it: a percentage is rounded down, 0 becomes 1."""
    value = math.floor(int(mu[:-1]) * nodes / 100) if mu.endswith("%") else int(mu)
    return max(1, value)


def floor_seconds(nodes: int, mu: str, node_update: float, render_delay: float) -> float:
    """The least any tool can take: the MCO's render delay, then ceil(N / maxUnavailable) node updates."""
    return render_delay + math.ceil(nodes / effective_max_unavailable(mu, nodes)) * node_update


@dataclass
class PlaybookRun:
    rc: int
    t0: float
    t_end: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    events: list[dict]
    log: Path

    @property
    def wall_s(self) -> float:
        return self.t_end - self.t0

    def task_window(self, name: str) -> tuple[float, float] | None:
        start = next((e["t"] for e in self.events if e["event"] == "task" and e["task"].endswith(name)), None)
        end = next((e for e in self.events if e["event"] == "end" and e["task"].endswith(name)), None)
        return (start, end["t"]) if start is not None and end is not None else None

    def breakdown(self) -> dict:
        """Where the wall time went: start-up (process start to the first task), tasks over 0.1 s, the rest."""
        tasks, starts = [], {}
        for e in self.events:
            if e["event"] == "task":
                starts[e["task"]] = e["t"]
            elif e["event"] == "end" and e["task"] in starts:
                tasks.append((e["task"].split(" : ")[-1], e["t"] - starts.pop(e["task"])))
        first = next((e["t"] for e in self.events if e["event"] == "task"), self.t_end)
        big = [(name, round(d, 2)) for name, d in tasks if d >= 0.1]
        return {"startup_s": round(first - self.t0, 2), "tasks_over_100ms": big,
                "other_tasks": sum(1 for t in tasks if t[1] < 0.1),
                "other_tasks_s": round(sum(t[1] for t in tasks if t[1] < 0.1), 2)}

    def attempts(self, name: str) -> int | None:
        end = next((e for e in self.events if e["event"] == "end" and e["task"].endswith(name)), None)
        return end.get("attempts") if end else None


@dataclass
class Env:
    """The cluster and how playbooks are run against it."""

    cluster_dir: Path
    logs: Path
    render_delay: float
    kube: Kube = field(init=False)

    def __post_init__(self) -> None:
        self.kube = Kube.from_kubeconfig(str(self.cluster_dir / "kubeconfig"), user_agent="sandboxed-bench")
        self.audit = AuditLog(self.cluster_dir / "logs" / "audit.log", USER)
        self.logs.mkdir(parents=True, exist_ok=True)

    def playbook_env(self, timeline: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_"))}
        env.update(
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
            K8S_AUTH_KUBECONFIG=str(self.cluster_dir / "users" / f"{USER}.kubeconfig"),
            # Only an observer: task start and end times for the audit windows.
            ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="bench_timeline",
            BENCH_TIMELINE=str(timeline),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        )
        return env

    def run_playbook(self, playbook: Path, label: str, extra_vars: dict | None = None) -> PlaybookRun:
        log, timeline = self.logs / f"{label}.log", self.logs / f"{label}.timeline.jsonl"
        timeline.unlink(missing_ok=True)
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(log, "w") as out:
            t0 = time.time()
            proc = subprocess.Popen(argv, env=self.playbook_env(timeline), stdout=out, stderr=subprocess.STDOUT,
                                    cwd=REPO)
            with MemorySampler(proc.pid) as mem:
                rc = proc.wait()
                t_end = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        events = [json.loads(line) for line in timeline.read_text().splitlines()] if timeline.exists() else []
        return PlaybookRun(rc, t0, t_end, cpu, mem.peak_rss / 2**20, mem.peak_pss / 2**20, events, log)

    def bind_automation(self) -> None:
        """Binds the `automation` user to the collection's least-privilege ClusterRole (as admin)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_"))}
        env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), K8S_AUTH_KUBECONFIG=str(self.cluster_dir / "kubeconfig"))
        subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"),
                        str(REPO / "playbooks" / "automation_access.yml"), "-e",
                        json.dumps({"sandboxed_containers_automation_subjects": [{"kind": "User", "name": USER}]})],
                       env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)

    def prepare(self, workers: int, mu: str, node_update: float) -> list[str]:
        """A freshly installed cluster with N workers; returns the chosen nodes (every worker)."""
        st.reset(self.kube, workers=workers, node_update=node_update, render_delay=self.render_delay)
        try:
            client.NodeV1Api(self.kube.api).delete_runtime_class("kata")
        except client.ApiException as e:
            if e.status != 404:
                raise
        if mu != "1":
            # The worker path: maxUnavailable is the worker pool's, set by the user for both tools alike.
            st.patch_pool_spec(self.kube, "worker", {"maxUnavailable": int(mu) if mu.isdigit() else mu})
        # No render left pending from the setup, so the MachineConfig's render takes the whole delay.
        time.sleep(self.render_delay + 1)
        return sorted(n["metadata"]["name"] for n in st.nodes(self.kube, "worker"))


def _first_mc_write(requests: list[Request]) -> float | None:
    """When the tool wrote the MachineConfig (a dry run does not count)."""
    for r in requests:
        path = r.uri.split("?")[0]
        if (r.verb in ("create", "patch", "update") and "dryRun" not in r.uri
                and (path.endswith(f"/machineconfigs/{MC_NAME}") or path.endswith("/machineconfigs"))):
            return r.t
    return None


def measure(env: Env, tool: str, workers: int, mu: str, node_update: float, label: str,
            reruns_count: int = 3) -> dict:
    """One install by `tool` from a fresh state, then no-op re-runs; every figure of results.json."""
    chosen = env.prepare(workers, mu, node_update)
    floor = floor_seconds(workers, mu, node_update, env.render_delay)
    rollout = Rollout(env.kube, "worker", MC_NAME, chosen).start()
    env.audit.mark()
    run = env.run_playbook(PLAYBOOKS[tool], f"{label}-install")
    if run.rc != 0:
        rollout.stop()
        raise RuntimeError(f"{tool} install failed (rc={run.rc}); see {run.log}")
    # The baseline may return before the nodes are updated: wait for them, as the cluster sees it.
    t_all = rollout.wait_all_updated(timeout=3 * floor + 120)
    st.wait_pool_converged(env.kube, "worker", contains=[MC_NAME], timeout=60)
    rollout.stop()
    time.sleep(0.5)  # the audit log is written as requests complete
    requests = env.audit.requests()
    install_reqs = between(requests, run.t0, run.t_end)
    window = run.task_window(WAIT_TASKS[tool])
    wait_reqs = between(requests, *window) if window else []
    reboots = st.reboots(env.kube)

    # No-op re-runs: cheap, so several, and the median one is reported.
    reruns = []
    for i in range(reruns_count):
        env.audit.mark()
        rerun = env.run_playbook(PLAYBOOKS[tool], f"{label}-rerun{i}")
        if rerun.rc != 0:
            raise RuntimeError(f"{tool} re-run failed (rc={rerun.rc}); see {rerun.log}")
        time.sleep(0.5)
        reruns.append((rerun, len(between(env.audit.requests(), rerun.t0, rerun.t_end))))
    rerun_times = [x[0].wall_s for x in reruns]
    rerun, rerun_reqs = sorted(reruns, key=lambda x: x[0].wall_s)[(len(reruns) - 1) // 2]

    t_mc = _first_mc_write(install_reqs)
    t_ready = rollout.first_ready(run.t0)
    attempts = run.attempts(WAIT_TASKS[tool])
    return {
        "tool": tool, "workers": workers, "max_unavailable": mu, "node_update_s": node_update,
        "render_delay_s": env.render_delay,
        "max_unavailable_effective": effective_max_unavailable(mu, workers),
        "wall_s": round(run.wall_s, 2), "floor_s": round(floor, 2), "ratio": round(run.wall_s / floor, 3),
        "overhead_s": round(run.wall_s - floor, 2),
        "reboots_chosen": [reboots[n] for n in chosen],
        "reboots_other": [v for n, v in sorted(reboots.items()) if n not in chosen],
        "api_requests_install": len(install_reqs), "api_requests_wait": len(wait_reqs),
        "wait_s": round(window[1] - window[0], 2) if window else None,
        "wait_attempts": attempts,
        "rerun_s": round(rerun.wall_s, 2), "rerun_s_each": [round(t, 2) for t in rerun_times],
        "api_requests_rerun": rerun_reqs,
        "peak_rss_mb": round(run.peak_rss_mb, 1), "peak_pss_mb": round(run.peak_pss_mb, 1),
        "rerun_peak_rss_mb": round(max(x[0].peak_rss_mb for x in reruns), 1),
        "cpu_s": round(run.cpu_s, 2), "rerun_cpu_s": round(rerun.cpu_s, 2),
        "returned_early": run.t_end < t_all,
        "install_breakdown": run.breakdown(), "rerun_breakdown": rerun.breakdown(),
        # Where the time went, from the playbook's start: the MachineConfig written, rendered, every node updated.
        "mc_written_s": round(t_mc - run.t0, 2) if t_mc else None,
        "rendered_s": round(rollout.t_rendered - run.t0, 2) if rollout.t_rendered else None,
        "all_updated_s": round(t_all - run.t0, 2),
        # Until a sandboxed pod can be scheduled onto a node with the handler, from the playbook's start and from
        # the MachineConfig's write; the least it can be after the write is the render delay and one node update.
        "first_ready_s": round(t_ready - run.t0, 2) if t_ready else None,
        "first_ready_after_mc_s": round(t_ready - t_mc, 2) if t_ready and t_mc else None,
        "first_ready_floor_s": round(env.render_delay + node_update, 2),
        "timeline": {
            "pool_updated": [(round(t - run.t0, 2), u, m) for t, u, m in rollout.pool_counts if t >= run.t0 - 1],
            "end_s": round(run.wall_s, 2),
        },
    }
