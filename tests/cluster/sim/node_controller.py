"""The node controller (pkg/controller/node), I/O part: targets, taints, pool status.

It reacts to every change at once: the MCO's 5 s update delay is folded into
the per-node update time (knob nodeUpdateSeconds) so big rollouts stay quick.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import pools as P
from .constants import (
    CONTROL_PLANE_TOPOLOGY,
    DESIRED_CONFIG,
    DESIRED_IMAGE,
    EVENT_COMPONENT_CONTROLLER,
    MCO_API,
    MCO_NAMESPACE,
    UPDATE_IN_PROGRESS_TAINT,
)
from .kube import now_rfc3339, ref
from .simulator import Requeue

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger("sim.node")


class NodeController:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.failures: dict[str, int] = {}
        self.reported: set[tuple[str, str]] = set()  # membership errors already announced
        self.scheduler_deleted: set[str] = set()  # masters to make unschedulable (checkMasterNodesOnDelete)
        self._no_scheduler_logged = False

    def reconcile_master(self, name: str) -> None:
        """reconcileMaster: a master's worker role and NoSchedule taint follow the Scheduler `cluster`'s
        spec.mastersSchedulable; without that object nothing is done (getMastersSchedulable errors)."""
        sim = self.sim
        node = sim.nodes.get(name)
        if node is None or not P.is_master(node) or node["metadata"].get("deletionTimestamp"):
            self.scheduler_deleted.discard(name)
            return
        if name in self.scheduler_deleted:
            schedulable = False
        else:
            sched = sim.schedulers.get("cluster")
            if sched is None:
                if not self._no_scheduler_logged:
                    self._no_scheduler_logged = True
                    log.info("getting scheduler config failed: scheduler.config.openshift.io \"cluster\" not found")
                return
            self._no_scheduler_logged = False
            schedulable = bool((sched.get("spec") or {}).get("mastersSchedulable"))
        labels, taints = P.master_reconcile(node, schedulable, sim.knobs.release.control_plane_label)
        if labels or taints is not None:
            sim.patch_node(node, labels=labels or None, spec={"taints": taints or None} if taints is not None
                           else None)
            log.info("node %s: master %s", name, "schedulable" if schedulable else "unschedulable")
        self.scheduler_deleted.discard(name)

    def sync(self, name: str) -> None:
        sim = self.sim
        pool = sim.pools.get(name)
        if pool is None:
            return
        tgt = P.target(pool)
        if not tgt:
            return  # "Pool is unconfigured": no status before the first render
        spec = pool.get("spec") or {}
        ns = spec.get("nodeSelector")
        if isinstance(ns, dict) and not ns.get("matchLabels") and not ns.get("matchExpressions"):
            self._event(pool, "Warning", "SelectingAll",
                        "This machineconfigpool is selecting all nodes. A non-empty selector is required.")
            return
        all_pools = sim.pools.items()
        members, warnings = P.nodes_for_pool(pool, sim.nodes.items(), all_pools)
        self._report(warnings)
        if pool["metadata"].get("deletionTimestamp") or spec.get("paused"):
            self._sync_status(name, members)
            return
        try:
            max_unavail = P.max_unavailable(pool, len(members))
        except ValueError as e:
            log.error("pool %s: %s", name, e)
            self._sync_status(name, members)
            n = self.failures.get(name, 0) + 1
            self.failures[name] = n
            raise Requeue(min(60.0, 0.005 * 2 ** n)) from None
        self.failures.pop(name, None)
        targets = {P.name(n) for n in P.choose_targets(pool, members, max_unavail)}
        topology = sim.knobs.control_plane_topology
        for n in members:
            self._update_node(n, pool, tgt, P.name(n) in targets, topology)
        if targets:
            line = f"MachineConfig: {tgt}"
            if len(targets) == 1:
                msg = f"Targeted node {next(iter(targets))} to {line}"
            else:
                msg = f"Set target for {len(targets)} nodes to {line}"
            log.info("pool %s: %s", name, msg)
            self._event(pool, "Normal", "SetDesiredConfig", msg)
        members = [sim.nodes.get(P.name(n)) or n for n in members]
        self._sync_status(name, members)

    def _update_node(self, node: dict, pool: dict, tgt: str, targeted: bool, topology: str) -> None:
        """One patch per node: desiredConfig for a target, the UpdateInProgress taint, the topology."""
        ann = P.annotations(node)
        annotations: dict[str, str | None] = {}
        if targeted:
            annotations[DESIRED_CONFIG] = tgt
            if DESIRED_IMAGE in ann:
                annotations[DESIRED_IMAGE] = None
        if ann.get(CONTROL_PLANE_TOPOLOGY) != topology:
            annotations[CONTROL_PLANE_TOPOLOGY] = topology
        after = {**node, "metadata": {**node["metadata"], "annotations": {
            **ann, **{k: v for k, v in annotations.items() if v is not None}}}}
        for k, v in annotations.items():
            if v is None:
                after["metadata"]["annotations"].pop(k, None)
        want = P.wants_update_taint(after, pool)
        has = P.has_update_taint(node)
        spec: dict[str, Any] | None = None
        if want != has:
            taints = [t for t in (node.get("spec") or {}).get("taints") or []
                      if not (t.get("key") == UPDATE_IN_PROGRESS_TAINT["key"]
                              and t.get("effect") == UPDATE_IN_PROGRESS_TAINT["effect"])]
            if want:
                taints.append(dict(UPDATE_IN_PROGRESS_TAINT))
            spec = {"taints": taints or None}
        if annotations or spec is not None:
            self.sim.patch_node(node, annotations=annotations or None, spec=spec, precondition=True)

    def _sync_status(self, name: str, members: list[dict]) -> None:
        pool = self.sim.pools.get(name)
        if pool is None:
            return
        old = pool.get("status") or {}
        status = P.calculate_status(pool, members, now_rfc3339())
        if not P.status_changed(old, status):
            return
        body = {"status": status}
        if "configuration" not in status:
            body["status"] = {**status, "configuration": None}
        out = self.sim.patch_pool(pool, body, status=True)
        if out is None:
            return
        before = (old.get("configuration") or {}).get("name")
        after = (status.get("configuration") or {}).get("name")
        if after and before != after:
            log.info("pool %s: completed update to %s", name, after)
            self._event(pool, "Normal", "Completed", f"Pool {name} has completed update to MachineConfig {after}")

    def _report(self, warnings: list[str]) -> None:
        """A node in two custom pools is in none: the MCO logs it; the simulator also tells the node."""
        for w in warnings:
            node = w.split('"')[1]
            key = (node, w)
            if key in self.reported:
                continue
            self.reported.add(key)
            log.warning("%s", w)
            n = self.sim.nodes.get(node)
            if n is not None:
                involved = ref({**n, "apiVersion": "v1", "kind": "Node"})
                self.sim.events.emit(involved, "Warning", "MultipleCustomPools", w.split(": ", 1)[1],
                                     EVENT_COMPONENT_CONTROLLER, namespace="default")
        if len(self.reported) > 1000:
            self.reported.clear()

    def _event(self, pool: dict, etype: str, reason: str, message: str) -> None:
        involved = ref({**pool, "apiVersion": MCO_API, "kind": "MachineConfigPool"}, MCO_NAMESPACE)
        self.sim.events.emit(involved, etype, reason, message, EVENT_COMPONENT_CONTROLLER, namespace=MCO_NAMESPACE)
