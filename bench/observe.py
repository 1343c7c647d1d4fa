"""What the benchmark observes around a playbook run: audit log, process tree memory, the rollout."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from sim.kube import Informer, Kube, mcp_path, node_path

RUNTIME_CLASSES = "/apis/node.k8s.io/v1/runtimeclasses"

CURRENT_CONFIG = "machineconfiguration.openshift.io/currentConfig"
STATE = "machineconfiguration.openshift.io/state"


# -- the API server's audit log ------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    t: float  # requestReceivedTimestamp, seconds since the epoch
    verb: str
    uri: str


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


class AuditLog:
    """Reads the requests of one user from the audit log, from a mark on (the log only grows)."""

    def __init__(self, path: Path, user: str) -> None:
        self.path, self.user = path, user
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def requests(self) -> list[Request]:
        seen: set[str] = set()
        out = []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            for line in f:
                if self.user.encode() not in line:  # cheap filter: most lines are the simulator's
                    continue
                try:
                    e = json.loads(line)
                except ValueError:  # a line still being written
                    continue
                # A watch is logged twice (ResponseStarted, ResponseComplete): count each request once.
                if e["user"]["username"] != self.user or e["auditID"] in seen:
                    continue
                seen.add(e["auditID"])
                out.append(Request(_epoch(e["requestReceivedTimestamp"]), e["verb"], e["requestURI"]))
        return sorted(out, key=lambda r: r.t)


def between(requests: list[Request], t0: float, t1: float) -> list[Request]:
    return [r for r in requests if t0 <= r.t <= t1]


# -- memory of the ansible-playbook process tree ----------------------------------------------

@dataclass
class MemorySampler:
    """Samples the summed RSS (and PSS, which counts pages shared by forks once) of a process tree."""

    pid: int
    interval: float = 0.1
    peak_rss: int = 0
    peak_pss: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        rss = pss = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                m = p.memory_full_info()
                rss += m.rss
                pss += m.pss
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


# -- the rollout, as the cluster shows it -----------------------------------------------------

@dataclass
class Rollout:
    """Watches the target pool and the nodes (as admin, not counted) and records when what happened.

    Node transitions are kept raw and interpreted at the end, because the two watches may deliver
    a node's new config before the pool's new target.
    """

    kube: Kube
    pool: str
    machine_config: str
    chosen: list[str]
    pool_counts: list[tuple[float, int, int]] = field(default_factory=list)  # (t, updated, machines)
    targets: set[str] = field(default_factory=set)  # rendered configs that carry the MachineConfig
    t_rendered: float | None = None
    # node -> [(t, current config, daemon state, labels)], a new entry whenever one of them changes
    node_states: dict[str, list[tuple[float, str | None, str | None, dict]]] = field(default_factory=dict)
    runtime_class: str = "kata"
    # [(t, the RuntimeClass's scheduling.nodeSelector, or None while it does not exist)]
    runtime_class_history: list[tuple[float, dict | None]] = field(default_factory=list)
    last_pool: dict | None = None
    _informers: list[Informer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Rollout:
        """Returns once both have listed, so the state before the run is known."""
        for path, handler in ((node_path(), self._on_node), (mcp_path(), self._on_pool),
                              (RUNTIME_CLASSES, self._on_runtime_class)):
            inf = Informer(self.kube, path, handler, name=f"bench-{path}")
            inf.start()
            self._informers.append(inf)
        for inf in self._informers:
            if not inf.synced.wait(30):
                raise TimeoutError(f"{inf.name}: no list in 30 s")
        return self

    def stop(self) -> None:
        for inf in self._informers:
            inf.stop()

    def _on_pool(self, _old: dict | None, obj: dict | None) -> None:
        if obj is None or obj["metadata"]["name"] != self.pool:
            return
        now = time.time()
        spec_cfg = (obj.get("spec") or {}).get("configuration") or {}
        st = obj.get("status") or {}
        with self._lock:
            if any(s.get("name") == self.machine_config for s in spec_cfg.get("source") or []):
                self.targets.add(spec_cfg.get("name"))
                if self.t_rendered is None:
                    self.t_rendered = now
            self.pool_counts.append((now, st.get("updatedMachineCount", 0), st.get("machineCount", 0)))
            self.last_pool = obj

    def _on_runtime_class(self, old: dict | None, obj: dict | None) -> None:
        current = obj or old
        if current is None or current["metadata"]["name"] != self.runtime_class:
            return
        selector = ((obj.get("scheduling") or {}).get("nodeSelector") or {}) if obj is not None else None
        with self._lock:
            self.runtime_class_history.append((time.time(), selector))

    def _on_node(self, _old: dict | None, obj: dict | None) -> None:
        if obj is None or obj["metadata"]["name"] not in self.chosen:
            return
        name = obj["metadata"]["name"]
        a = obj["metadata"].get("annotations") or {}
        state = (a.get(CURRENT_CONFIG), a.get(STATE), dict(obj["metadata"].get("labels") or {}))
        with self._lock:
            hist = self.node_states.setdefault(name, [])
            if not hist or hist[-1][1:] != state:
                hist.append((time.time(), *state))

    def updated_at(self) -> dict[str, float | None]:
        """When each chosen node first ran a config with the MachineConfig and was Done."""
        with self._lock:
            return {n: next((t for t, cfg, s, _labels in self.node_states.get(n, [])
                             if cfg in self.targets and s == "Done"), None) for n in self.chosen}

    def first_ready(self, since: float) -> float | None:
        with self._lock:
            return first_ready(since, self.runtime_class_history, self.node_states, self.targets)

    def all_updated(self) -> float | None:
        times = self.updated_at().values()
        return None if None in times else max(times, default=None)

    def wait_all_updated(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while (t := self.all_updated()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the rollout did not finish in {timeout:.0f} s")
            time.sleep(0.1)
        return t


def first_ready(since: float, runtime_class: list[tuple[float, dict | None]],
                nodes: dict[str, list[tuple[float, str | None, str | None, dict]]], targets: set[str]) -> float | None:
    """The first moment from `since` on when a sandboxed pod can be scheduled onto a node that has the handler: the
    RuntimeClass exists, and a node whose daemon is Done on a rendered config with the MachineConfig carries every
    label of the RuntimeClass's nodeSelector (None: never, in what was observed)."""
    moments = sorted({since} | {t for t, _selector in runtime_class} | {e[0] for hist in nodes.values() for e in hist})
    for t in (m for m in moments if m >= since):
        selector = next((sel for when, sel in reversed(runtime_class) if when <= t), None)
        if selector is None:
            continue
        for hist in nodes.values():
            last = next((e for e in reversed(hist) if e[0] <= t), None)
            if last is None:
                continue
            _when, cfg, state, labels = last
            if cfg in targets and state == "Done" and all(labels.get(k) == v for k, v in selector.items()):
                return t
    return None
