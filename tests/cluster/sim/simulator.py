"""The running simulator: informers feed one work queue, workers run the controllers.

Keys of the queue and who handles them:
  ("render", pool)   render controller (render_controller.py)
  ("pool", pool)     node controller: targets, taints, pool status (node_controller.py)
  ("daemon", node)   the node's machine-config daemon (daemon.py)
  ("drain", node)    the drain controller's part for that node (daemon.py)
  ("pod", ns/name)   the kubelet of the pod's node (kubelet.py)
  ("heartbeat", node) Ready heartbeat and Lease (kubelet.py)
  ("master", node)   schedulable masters (node_controller.py reconcile_master)

Everything the simulation knows is in the API (node annotations and
conditions, pools, MachineConfigs); the only memory is timers and caches,
so the process can be killed at any point and started again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import urllib3

from . import pools as P
from . import selectors
from .constants import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    DESIRED_DRAIN,
    KNOBS_CONFIGMAP,
    KNOBS_NAMESPACE,
    LAST_APPLIED_DRAIN,
    SCHEDULER_PATH,
)
from .knobs import Knobs
from .kube import ApiError, Events, Informer, Kube, WorkQueue, cm_path, mc_path, mcp_path, node_path
from .releases import Release


def user_agent(release: Release) -> str:
    """The simulator's user agent names the release it plays (the audit log shows it)."""
    return f"machine-config-simulator/{release.version}"


log = logging.getLogger("sim")


class Requeue(Exception):
    """Process the key again after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(f"requeue after {delay:.3f}s")
        self.delay = delay


class Simulator:
    def __init__(self, kube: Kube, *, workers: int = 8, egress_socket: str | None = None) -> None:
        from .daemon import Daemon, DrainController
        from .kubelet import Kubelet
        from .node_controller import NodeController
        from .render_controller import RenderController

        self.kube = kube
        self.queue = WorkQueue()
        self.events = Events(kube)
        self.knobs = Knobs()
        self.workers = workers
        self.stop_event = threading.Event()
        self.nodes = Informer(kube, node_path(), self._on_node, name="nodes")
        self.mcs = Informer(kube, mc_path(), self._on_mc, name="machineconfigs")
        self.pools = Informer(kube, mcp_path(), self._on_pool, name="machineconfigpools")
        self.pods = Informer(kube, "/api/v1/pods", self._on_pod, name="pods")
        self.runtimeclasses = Informer(kube, "/apis/node.k8s.io/v1/runtimeclasses", self._on_runtimeclass,
                                       name="runtimeclasses")
        self.knob_cm = Informer(kube, cm_path(KNOBS_NAMESPACE), self._on_knobs, name="knobs",
                                field_selector=f"metadata.name={KNOBS_CONFIGMAP}")
        # config.openshift.io Schedulers: its CRD may come later (the informer relists until it is served)
        self.schedulers = Informer(kube, SCHEDULER_PATH, self._on_scheduler, name="schedulers")
        self.informers = [self.knob_cm, self.mcs, self.pools, self.nodes, self.runtimeclasses, self.pods,
                          self.schedulers]
        self.optional = {self.schedulers.name}  # not waited for at start
        self.render = RenderController(self)
        self.node_controller = NodeController(self)
        self.daemon = Daemon(self)
        self.drain = DrainController(self)
        self.kubelet = Kubelet(self)
        self.egress_socket = egress_socket  # the kubelets' API behind the API server's egress (kubelet_api.py)
        self.handlers: dict[str, Callable[[str], None]] = {
            "render": self.render.sync,
            "pool": self.node_controller.sync,
            "daemon": self.daemon.sync,
            "drain": self.drain.sync,
            "pod": self.kubelet.sync_pod,
            "heartbeat": self.kubelet.heartbeat,
            "master": self.node_controller.reconcile_master,
        }
        self._started = False

    # -- running ------------------------------------------------------------------

    def run(self, ready_file: Path | None = None, sync_timeout: float = 60.0) -> None:
        """Starts everything, writes `ready_file` once the caches are filled, returns at stop."""
        self.kube.start_reaper()
        self.events.start()
        for inf in self.informers:
            inf.start()
        deadline = time.monotonic() + sync_timeout
        for inf in self.informers:
            if inf.name in self.optional:
                continue
            if not inf.synced.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"the {inf.name} informer did not sync in {sync_timeout:.0f}s")
        self._started = True
        self._initial_enqueue()
        for i in range(self.workers):
            threading.Thread(target=self._worker, name=f"worker-{i}", daemon=True).start()
        egress = None
        if self.egress_socket:
            from .kubelet_api import EgressServer

            egress = EgressServer(self, self.egress_socket)
            egress.start()
        if ready_file is not None:
            ready_file.write_text(f"{time.time():.3f}\n")
        log.info("simulator running: %d nodes, %d pools, %d MachineConfigs", len(self.nodes.items()),
                 len(self.pools.items()), len(self.mcs.items()))
        self.stop_event.wait()
        if egress is not None:
            egress.stop()
        self.queue.shutdown()
        for inf in self.informers:
            inf.stop()
        self.kube.close()

    def stop(self) -> None:
        self.stop_event.set()

    def _initial_enqueue(self) -> None:
        for p in self.pools.items():
            name = P.name(p)
            self.queue.add(("render", name))
            self.queue.add(("pool", name))
        for n in self.nodes.items():
            name = P.name(n)
            self.queue.add(("daemon", name))
            self.queue.add(("drain", name))
            if P.is_master(n):
                self.queue.add(("master", name))
            self.queue.add_after(("heartbeat", name), random.uniform(0.5, max(1.0, self.knobs.heartbeat)))
        for pod in self.pods.items():
            if (pod.get("spec") or {}).get("nodeName"):
                self.queue.add(("pod", _pod_key(pod)))

    def _worker(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            kind, name = key  # type: ignore[misc]
            try:
                self.handlers[kind](name)
                self.queue.forget(key)
            except Requeue as r:
                self.queue.add_after(key, r.delay)
            except ApiError as e:
                if e.conflict:
                    log.debug("%s %s: conflict, retrying", kind, name)
                    self.queue.add_rate_limited(key, base=0.01, cap=1.0)
                else:
                    log.warning("%s %s: %s", kind, name, e)
                    self.queue.add_rate_limited(key, base=0.2, cap=30.0)
            except (urllib3.exceptions.HTTPError, OSError) as e:  # the API server restarts in some tests
                log.info("%s %s: API server unreachable (%s), retrying", kind, name, type(e).__name__)
                self.queue.add_rate_limited(key, base=0.2, cap=5.0)
            except Exception:
                log.exception("%s %s failed", kind, name)
                self.queue.add_rate_limited(key, base=0.2, cap=30.0)
            finally:
                self.queue.done(key)

    def enqueue(self, key: Hashable, delay: float = 0.0) -> None:
        if delay > 0:
            self.queue.add_after(key, delay)
        else:
            self.queue.add(key)

    # -- event handlers (called from informer threads; they only enqueue) ------------

    def _pools_of_labels(self, *label_sets: dict[str, str] | None) -> set[str]:
        out = set()
        for p in self.pools.items():
            sel = (p.get("spec") or {}).get("nodeSelector")
            if any(ls is not None and selectors.matches(sel, ls) for ls in label_sets):
                out.add(P.name(p))
        return out

    @staticmethod
    def _node_fingerprint(n: dict | None) -> Any:
        if n is None:
            return None
        md, spec = n["metadata"], n.get("spec") or {}
        conds = tuple(sorted((c.get("type"), c.get("status")) for c in (n.get("status") or {}).get("conditions")
                             or []))
        taints = tuple((t.get("key"), t.get("effect"), t.get("value")) for t in spec.get("taints") or [])
        return (tuple(sorted((md.get("labels") or {}).items())), tuple(sorted((md.get("annotations") or {}).items())),
                bool(spec.get("unschedulable")), taints, conds, md.get("deletionTimestamp"))

    def _on_node(self, old: dict | None, new: dict | None) -> None:
        if not self._started:
            return
        if self._node_fingerprint(old) == self._node_fingerprint(new):
            return
        node = new or old
        name = P.name(node)  # type: ignore[arg-type]
        for p in self._pools_of_labels((old or {}).get("metadata", {}).get("labels"),
                                       (new or {}).get("metadata", {}).get("labels")):
            self.queue.add(("pool", p))
        if new is None:
            self.daemon.forget(name)
            return
        self.queue.add(("daemon", name))
        if P.is_master(new):
            self.queue.add(("master", name))  # reconcileMaster on every master add/update
        ann_old = (old or {}).get("metadata", {}).get("annotations") or {}
        ann_new = new["metadata"].get("annotations") or {}
        if ann_old.get(DESIRED_DRAIN) != ann_new.get(DESIRED_DRAIN) or ann_new.get(DESIRED_DRAIN) != ann_new.get(
                LAST_APPLIED_DRAIN) or old is None:
            self.queue.add(("drain", name))
        if old is None:
            self.queue.add_after(("heartbeat", name), random.uniform(0.5, max(1.0, self.knobs.heartbeat)))
        if (old is None or ann_old.get(CURRENT_CONFIG) != ann_new.get(CURRENT_CONFIG)
                or _ready(old) != _ready(new) or bool((old.get("spec") or {}).get("unschedulable"))
                != bool((new.get("spec") or {}).get("unschedulable"))):
            for pod in self.pods_on(name):
                self.queue.add(("pod", _pod_key(pod)))

    def _on_mc(self, old: dict | None, new: dict | None) -> None:
        if not self._started:
            return
        if old is not None and new is not None and old.get("spec") == new.get("spec") and (
                old["metadata"].get("labels") == new["metadata"].get("labels")):
            return
        mc = new or old
        name = mc["metadata"]["name"]  # type: ignore[index]
        delay = self.knobs.render_delay
        owner = next((o for o in mc["metadata"].get("ownerReferences") or []  # type: ignore[index]
                      if o.get("controller") and o.get("kind") == "MachineConfigPool"), None)
        if owner is not None:
            if self.pools.get(owner["name"]) is not None:
                self.queue.add_after(("render", owner["name"]), delay)
            # a rendered config a node waits for
            for n in self.nodes.items():
                ann = n["metadata"].get("annotations") or {}
                if name in (ann.get(DESIRED_CONFIG), ann.get(CURRENT_CONFIG)):
                    self.queue.add(("daemon", P.name(n)))
                if ann.get(CURRENT_CONFIG) == name:
                    for pod in self.pods_on(P.name(n)):
                        self.queue.add(("pod", _pod_key(pod)))
            return
        labels = [x["metadata"].get("labels") or {} for x in (old, new) if x is not None]
        if not any(labels):
            log.warning("no MachineConfigPool found for MachineConfig %s because it has no labels", name)
        for p in self.pools.items():
            sel = (p.get("spec") or {}).get("machineConfigSelector")
            if any(lb and not selectors.is_empty(sel) and selectors.matches(sel, lb) for lb in labels):
                self.queue.add_after(("render", P.name(p)), delay)

    def _on_pool(self, old: dict | None, new: dict | None) -> None:
        if not self._started:
            return
        pool = new or old
        name = P.name(pool)  # type: ignore[arg-type]
        if new is not None:
            if not P.target(new):
                self.queue.add(("render", name))  # the first render skips the delay (bootstrap)
            elif old is None or old.get("spec") != new.get("spec"):
                self.queue.add_after(("render", name), self.knobs.render_delay)
            if old is None or P.target(old) != P.target(new) or old.get("spec", {}).get("nodeSelector") != new.get(
                    "spec", {}).get("nodeSelector"):
                for n in self.nodes.items():
                    if not (n["metadata"].get("annotations") or {}).get(CURRENT_CONFIG):
                        self.queue.add(("daemon", P.name(n)))  # nodes waiting for a first config
        for p in self.pools.items():
            self.queue.add(("pool", P.name(p)))
        if new is None or old is None or (old.get("spec") or {}).get("nodeSelector") != (new.get("spec") or {}).get(
                "nodeSelector"):
            self.queue.add(("pool", name))

    def _on_pod(self, old: dict | None, new: dict | None) -> None:
        if not self._started:
            return
        pod = new or old
        node = (pod.get("spec") or {}).get("nodeName")  # type: ignore[union-attr]
        if not node:
            return
        if new is not None:
            self.queue.add(("pod", _pod_key(new)))
        n = self.nodes.get(node)
        if n is not None:
            ann = n["metadata"].get("annotations") or {}
            if ann.get(DESIRED_DRAIN, "") != ann.get(LAST_APPLIED_DRAIN, "") and (
                    new is None or new["metadata"].get("deletionTimestamp")):
                self.queue.add(("drain", node))

    def _on_runtimeclass(self, old: dict | None, new: dict | None) -> None:
        if not self._started:
            return
        rc = new or old
        for pod in self.pods.items():
            if ((pod.get("spec") or {}).get("runtimeClassName") == rc["metadata"]["name"]  # type: ignore[index]
                    and (pod.get("status") or {}).get("phase") == "Pending"):
                self.queue.add(("pod", _pod_key(pod)))

    def _on_scheduler(self, old: dict | None, new: dict | None) -> None:
        if not self._started or (new or old or {}).get("metadata", {}).get("name") != "cluster":
            return
        if new is not None and old is not None and old.get("spec") == new.get("spec"):
            return  # checkMasterNodesOnUpdate: only a spec change
        masters = [P.name(n) for n in self.nodes.items() if P.is_master(n)]
        if new is None:
            self.node_controller.scheduler_deleted.update(masters)
        for name in masters:
            self.queue.add(("master", name))

    def _on_knobs(self, old: dict | None, new: dict | None) -> None:
        before = self.knobs
        self.knobs = Knobs.from_data((new or {}).get("data"))
        if self.knobs != before:
            log.info("knobs: %s", self.knobs)
        if before.openshift_version != self.knobs.openshift_version:
            self.kube.api.user_agent = user_agent(self.knobs.release)
        if not self._started:
            return
        if (before.extensions, before.validation, before.openshift_version) != (
                self.knobs.extensions, self.knobs.validation, self.knobs.openshift_version):
            for p in self.pools.items():
                self.queue.add_after(("render", P.name(p)), self.knobs.render_delay)
        if before.heartbeat != self.knobs.heartbeat:
            for n in self.nodes.items():
                self.queue.add_after(("heartbeat", P.name(n)), random.uniform(0.1, max(0.2, self.knobs.heartbeat)))
        if before.topology != self.knobs.topology:
            for p in self.pools.items():
                self.queue.add(("pool", P.name(p)))

    # -- writes (with the result fed back into the caches) ------------------------------

    def patch_node(self, node: dict, *, annotations: dict[str, str | None] | None = None,
                   spec: dict | None = None, precondition: bool = True,
                   labels: dict[str, str | None] | None = None) -> dict | None:
        """Merge-patches a node; with `precondition`, only if it is still the version we saw.

        A conflict refreshes the cache and requeues the caller's key, so every
        decision is taken again on the current object.
        """
        name = P.name(node)
        body: dict[str, Any] = {"metadata": {}}
        if precondition:
            body["metadata"]["resourceVersion"] = node["metadata"]["resourceVersion"]
        if annotations:
            body["metadata"]["annotations"] = annotations
        if labels:
            body["metadata"]["labels"] = labels
        if spec is not None:
            body["spec"] = spec
        try:
            out = self.kube.merge_patch(node_path(name), body)
        except ApiError as e:
            if e.conflict:
                self.refresh(self.nodes, node_path(name))
                raise Requeue(0.0) from None
            if e.not_found:
                self.nodes.forget(name)
                return None
            raise
        self.nodes.apply(out)
        return out

    def patch_node_status(self, node: dict, status: dict) -> dict | None:
        try:
            out = self.kube.strategic_patch(node_path(P.name(node)) + "/status", {"status": status})
        except ApiError as e:
            if e.not_found:
                return None
            raise
        self.nodes.apply(out)
        return out

    def patch_pool(self, pool: dict, body: dict, *, status: bool) -> dict | None:
        """Merge-patches a pool (spec, or the status subresource) if it is still the version we saw."""
        name = P.name(pool)
        body = {**body, "metadata": {"resourceVersion": pool["metadata"]["resourceVersion"]}}
        path = mcp_path(name) + ("/status" if status else "")
        try:
            out = self.kube.merge_patch(path, body)
        except ApiError as e:
            if e.conflict:
                self.refresh(self.pools, mcp_path(name))
                raise Requeue(0.0) from None
            if e.not_found:
                return None
            raise
        self.pools.apply(out)
        return out

    def refresh(self, informer: Informer, path: str) -> None:
        try:
            informer.apply(self.kube.get(path))
        except ApiError as e:
            if not e.not_found:
                raise

    # -- helpers ---------------------------------------------------------------------

    def pods_on(self, node: str) -> list[dict]:
        return [p for p in self.pods.items() if (p.get("spec") or {}).get("nodeName") == node]


def _pod_key(pod: dict) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def _ready(node: dict | None) -> str | None:
    for c in ((node or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status")
    return None
