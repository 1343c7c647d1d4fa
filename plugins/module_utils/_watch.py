# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Watch MachineConfigPools and Nodes until pools converge for our change, fail or time out.

One LIST and one WATCH per kind, re-established when the server ends the
watch (or the connection breaks, e.g. while the API server restarts), so the
number of requests does not grow with the length of the wait. Every event
updates a local cache and the pools are assessed again (see _convergence).

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ansible_collections.sandboxed.containers.plugins.module_utils import _drain
from ansible_collections.sandboxed.containers.plugins.module_utils._convergence import (
    CONVERGED,
    FAILED,
    ROLLED_OUT,
    Assessment,
    assess,
    ready_condition,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import unavailable
from ansible_collections.sandboxed.containers.plugins.module_utils._membership import pool_members
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    CRIO_DROPIN_PATH,
    HANDLER_LABEL,
    KATA_EXTENSIONS,
    MC_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import max_unavailable_nodes
from ansible_collections.sandboxed.containers.plugins.module_utils._readiness import not_ready_because
from ansible_collections.sandboxed.containers.plugins.module_utils._rendered import rendered_carries

WATCH_SECONDS = 240  # the server ends each watch after this; we re-watch from the last resourceVersion
RETRY_SECONDS = (0.2, 0.5, 1, 2, 5)
# A drain pending this long is looked at (its pods, the PodDisruptionBudgets), then again at this interval while it
# stays pending: a drain nothing holds usually ends first and costs no request; a held one is named within seconds
# (the drain controller retries a refused eviction every 5 s; see tests/cluster/sim/README.md).
DRAIN_LOOK_AFTER = 2.0
DRAIN_LOOK_EVERY = 5.0


def retry_while_unavailable(fn: Callable[[], object], deadline: float, progress: Callable[[str], None],
                            what: str) -> object:
    """fn(), retried with back-off while the API server is unavailable, until `deadline` (monotonic)."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:
            if not unavailable(e) or time.monotonic() >= deadline:
                raise
            if attempt == 0:
                progress(f"the API server is unavailable ({type(e).__name__}) while {what}; retrying")
            time.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1


# What an uninstall waits to see gone from a rendered config.
OUR_CONTENT = {"extensions": list(KATA_EXTENSIONS), "config": {"storage": {"files": [{"path": CRIO_DROPIN_PATH}]}}}


@dataclass
class Outcome:
    state: str  # converged, failed or timeout
    assessments: dict[str, Assessment]
    elapsed: float
    requests: int
    failures: list[str] = field(default_factory=list)


def auto_timeout(pools: list[dict], nodes: list[dict], names: list[str]) -> int:
    """A timeout fit for the rollout: 10 min, plus 15 min per batch of maxUnavailable nodes of the largest pool."""
    batches = 1
    for p in pools:
        if p["metadata"]["name"] not in names:
            continue
        n = len(pool_members(p["metadata"]["name"], nodes, pools))
        batches = max(batches, math.ceil(n / max_unavailable_nodes((p.get("spec") or {}).get("maxUnavailable"), n)))
    return 600 + 900 * batches


class _Watch(threading.Thread):
    """LIST then WATCH one kind forever, putting (kind, type, object) on a queue."""

    def __init__(self, dyn, resource, kind: str, events: queue.Queue, counter: Callable[[], None]) -> None:
        super().__init__(daemon=True, name=f"watch-{kind}")
        self.dyn, self.resource, self.kind, self.events, self.count = dyn, resource, kind, events, counter
        self.stopped = threading.Event()

    def run(self) -> None:
        attempt = 0
        rv = None
        while not self.stopped.is_set():
            try:
                if rv is None:
                    self.count()
                    listed = self.dyn.request("get", self.resource.path(), serialize=False)
                    body = json.loads(listed.data)
                    self.events.put((self.kind, "SYNC", body.get("items") or []))
                    rv = body["metadata"]["resourceVersion"]
                self.count()
                for ev in self.dyn.watch(self.resource, resource_version=rv, timeout=WATCH_SECONDS,
                                         allow_watch_bookmarks=True):
                    if self.stopped.is_set():
                        return
                    obj = ev["raw_object"]
                    if ev["type"] == "ERROR":
                        if obj.get("code") == 410:  # our resourceVersion is too old: list again
                            rv = None
                        break
                    rv = obj.get("metadata", {}).get("resourceVersion") or rv
                    if ev["type"] != "BOOKMARK":
                        self.events.put((self.kind, ev["type"], obj))
                attempt = 0
            except Exception as e:
                status = getattr(e, "status", None)
                if status in (401, 403):
                    self.events.put((self.kind, "DENIED", str(getattr(e, "reason", e))))
                    return
                rv = None  # after a break, list again so nothing is missed
                time.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                attempt += 1


class PoolWaiter:
    """Waits for pools to converge; `dyn` is a kubernetes DynamicClient."""

    def __init__(self, dyn, pools: list[str], *, machine_config: str | None = None, present: bool = True,
                 phase: str = ROLLED_OUT, absent_from: list[str] | None = None,
                 reboot_timeout: float | None = None, handler: str | None = None,
                 candidates: list[str] | None = None, on_ready: Callable[[list[str]], None] | None = None) -> None:
        self.dyn = dyn
        # Node by node: `on_ready` is called with the candidates that have just become ready for sandboxed pods
        # (see _readiness), once each, while the rollout goes on; nodes already labelled are not called again.
        self.handler = handler
        self.candidates = sorted(candidates or [])
        self.on_ready = on_ready
        self.marked: set[str] | None = None
        # Pools that must converge with the MachineConfig (or without it when present is false), then
        # pools that must converge without it (e.g. the worker pool the chosen nodes left).
        self.absent_from = [p for p in absent_from or [] if p not in pools]
        self.names = list(pools) + self.absent_from
        self.machine_config = machine_config
        self.present = present
        self.phase = phase
        self.requests = 0
        self._lock = threading.Lock()
        self.pools: dict[str, dict] = {}
        self.nodes: dict[str, dict] = {}
        self.rendered: dict[str, dict | None] = {}
        self.mc_spec: dict | None = None
        self.timeout: float | None = None
        self.reboot_timeout = reboot_timeout
        # When this wait first saw each node NotReady (its own clock: the cluster's may differ from ours).
        self.not_ready_since: dict[str, float] = {}
        # Pending drains: when first seen and last looked at; what holds each (see _drain).
        self.drain_seen: dict[str, float] = {}
        self.drain_looked: dict[str, float] = {}
        self.held: dict[str, list[dict]] = {}

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _get(self, kind: str, name: str) -> dict | None:
        self._count()
        res = self.dyn.resources.get(api_version=MC_API, kind=kind)
        try:
            return self.dyn.request("get", res.path(name=name)).to_dict()
        except Exception as e:
            if getattr(e, "status", None) == 404:
                return None
            raise

    def _rendered(self, name: str | None) -> dict | None:
        if not name:
            return None
        if name not in self.rendered:
            try:
                mc = self._get("MachineConfig", name)
            except Exception:
                return None
            self.rendered[name] = (mc or {}).get("spec")
        return self.rendered[name]

    def assess_all(self) -> dict[str, Assessment]:
        out = {}
        all_pools = list(self.pools.values())
        nodes = list(self.nodes.values())
        now = time.monotonic()
        not_ready_for = {n: now - t for n, t in self.not_ready_since.items()}
        for name in self.names:
            pool = self.pools.get(name)
            if pool is None:
                out[name] = Assessment("progressing", f"{name}: waiting for the pool to exist",
                                       waiting_for=[f"MachineConfigPool {name} to exist"])
                continue
            target = ((pool.get("spec") or {}).get("configuration") or {}).get("name")
            check_content = self.machine_config is not None
            present = self.present and name not in self.absent_from
            out[name] = assess(
                pool, pool_members(name, nodes, all_pools), machine_config=self.machine_config,
                mc_spec=(self.mc_spec if present else OUR_CONTENT) if check_content else None, present=present,
                rendered_spec=self._rendered(target) if check_content else None, phase=self.phase,
                not_ready_for=not_ready_for, reboot_timeout=self.reboot_timeout,
            )
        self._name_held_drains(out, now)
        return out

    def _name_held_drains(self, out: dict[str, Assessment], now: float) -> None:
        """Names, in each pool's progress and in what it waits for, the drains a PodDisruptionBudget holds."""
        all_pools = list(self.pools.values())
        nodes = list(self.nodes.values())
        for name, a in out.items():
            if a.state == CONVERGED:
                continue
            for node in pool_members(name, nodes, all_pools):
                held = self._held(node, now)
                if held:
                    node_name = node["metadata"]["name"]
                    a.progress = _drain.name_held(a.progress, node_name, held)
                    a.waiting_for.append(_drain.held_words(node_name, held))

    def _held(self, node: dict, now: float) -> list[dict]:
        """What holds the node's pending drain: looked up once it has been pending DRAIN_LOOK_AFTER s, then every
        DRAIN_LOOK_EVERY s while it stays pending (two list requests each time); nothing while none is pending."""
        name = node["metadata"]["name"]
        if not _drain.drain_pending(node):
            for d in (self.drain_seen, self.drain_looked, self.held):
                d.pop(name, None)
            return []
        seen = self.drain_seen.setdefault(name, now)
        if now - seen >= DRAIN_LOOK_AFTER and now - self.drain_looked.get(name, -math.inf) >= DRAIN_LOOK_EVERY:
            self.drain_looked[name] = now
            try:
                pods = self._list("/api/v1/pods", field_selector=f"spec.nodeName={name}")
                budgets = self._list("/apis/policy/v1/poddisruptionbudgets")
            except Exception:  # naming the held drain is a courtesy: the wait goes on without it
                return self.held.get(name, [])
            self.held[name] = _drain.preview(name, pods, budgets)["held"]
        return self.held.get(name, [])

    def _list(self, path: str, **params: str) -> list[dict]:
        self._count()
        return self.dyn.request("get", path, **params).to_dict().get("items") or []

    def _carries(self, config: str) -> bool | None:
        spec = self._rendered(config)
        return None if spec is None or self.mc_spec is None else rendered_carries(spec, self.mc_spec)

    def mark_ready(self) -> list[str]:
        """Calls on_ready with the candidates that became ready since the last call; returns them."""
        if self.on_ready is None or not self.present or not self.handler:
            return []
        if self.marked is None:  # labelled by an earlier run: not again
            self.marked = {n for n in self.candidates if ((self.nodes.get(n) or {}).get("metadata", {})
                                                          .get("labels") or {}).get(HANDLER_LABEL) == self.handler}
        fresh = [n for n in self.candidates if n not in self.marked and n in self.nodes
                 and not_ready_because(self.nodes[n], self.handler, self._carries) is None]
        if fresh:
            self.on_ready(fresh)
            self.marked.update(fresh)
        return fresh

    def _track_readiness(self, changed: dict | None) -> None:
        """Keeps when each node was first seen NotReady; `changed` is one node, or None after a full list."""
        now = time.monotonic()
        for n in ([changed] if changed is not None else list(self.nodes.values())):
            name = n["metadata"]["name"]
            if name not in self.nodes or ready_condition(self.nodes[name]).get("status") == "True":
                self.not_ready_since.pop(name, None)
            else:
                self.not_ready_since.setdefault(name, now)

    def _read_machine_config(self, deadline: float, progress: Callable[[str], None]) -> None:
        """The MachineConfig's content, which the rendered configs must carry (or lack, after an uninstall)."""
        if not self.machine_config:
            return
        if not self.present:
            self.mc_spec = OUR_CONTENT
            return
        mc = retry_while_unavailable(lambda: self._get("MachineConfig", self.machine_config), deadline,
                                     progress, f"reading MachineConfig {self.machine_config}")
        if mc is None:
            raise LookupError(f"MachineConfig {self.machine_config} does not exist; nothing to wait for")
        self.mc_spec = mc.get("spec") or {}

    def _take(self, batch: list[tuple[str, str, object]], synced: set[str]) -> None:
        """Applies a batch of watch events to the local cache of pools and nodes."""
        for kind, typ, obj in batch:
            if typ == "DENIED":
                raise PermissionError(f"the API server refused to let us watch {kind}s: {obj}")
            store = self.pools if kind == "pool" else self.nodes
            if typ == "SYNC":
                store.clear()
                store.update({o["metadata"]["name"]: o for o in obj})
                synced.add(kind)
            elif typ == "DELETED":
                store.pop(obj["metadata"]["name"], None)
            else:
                store[obj["metadata"]["name"]] = obj
            if kind == "node":
                self._track_readiness(obj if typ != "SYNC" else None)

    def wait(self, timeout: float | None, progress: Callable[[str], None] = lambda _: None,
             heartbeat: float = 60.0) -> Outcome:
        """Until every pool has converged (or one failed, or `timeout` s passed; 0 sizes it from the pools)."""
        start = time.monotonic()
        deadline = start + (timeout or 3600)
        self._read_machine_config(deadline, progress)
        events: queue.Queue = queue.Queue()
        pool_res, node_res = retry_while_unavailable(lambda: (
            self.dyn.resources.get(api_version=MC_API, kind="MachineConfigPool"),
            # prefix="api": the core group only. Without it the lookup of "v1" walks every API group, and on
            # the controller (whose discovery cache lives in a per-run temporary directory) that is ~25 requests.
            self.dyn.resources.get(api_version="v1", kind="Node", prefix="api")), deadline, progress,
            "discovering the API")
        watches = [_Watch(self.dyn, pool_res, "pool", events, self._count),
                   _Watch(self.dyn, node_res, "node", events, self._count)]
        for w in watches:
            w.start()
        synced: set[str] = set()
        last_text, last_print = "", 0.0
        assessments: dict[str, Assessment] = {}
        try:
            while True:
                limit = timeout if timeout else 3600  # 0 (automatic) is sized once the caches synced
                remaining = None if timeout is None else limit - (time.monotonic() - start)
                if remaining is not None and remaining <= 0:
                    return Outcome("timeout", assessments, time.monotonic() - start, self.requests)
                try:
                    item = events.get(timeout=min(1.0, remaining) if remaining is not None else 1.0)
                except queue.Empty:
                    item = None
                batch = [item] if item else []
                while True:  # take every queued event before assessing again
                    try:
                        batch.append(events.get_nowait())
                    except queue.Empty:
                        break
                self._take(batch, synced)
                if synced != {"pool", "node"}:
                    continue
                if timeout == 0:  # automatic: sized by the pools' machine counts and maxUnavailable
                    timeout = auto_timeout(list(self.pools.values()), list(self.nodes.values()), self.names)
                    self.timeout = timeout
                assessments = self.assess_all()
                self.mark_ready()
                states = {a.state for a in assessments.values()}
                text = "; ".join(a.progress for a in assessments.values())
                now = time.monotonic()
                if text != last_text or now - last_print >= heartbeat:
                    progress(text if text != last_text else f"still waiting: {text}")
                    last_text, last_print = text, now
                if FAILED in states:
                    failures = [f for a in assessments.values() for f in a.failures]
                    return Outcome(FAILED, assessments, now - start, self.requests, failures)
                if states == {CONVERGED}:
                    return Outcome(CONVERGED, assessments, now - start, self.requests)
        finally:
            for w in watches:
                w.stopped.set()
