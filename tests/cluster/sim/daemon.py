"""The machine-config daemon of every simulated node, and the drain controller.

The daemon's phase is read from the node alone, so a restart resumes it:

  currentConfig == desiredConfig          idle (Done; Degraded while a fault is set)
  update-target != desiredConfig          start: state=Working, update-started=now
  desiredDrain=drain-X, lastApplied != it  waiting for the drain controller
  drained, before started + 0.35 T         writing files, rpm-ostree (T = nodeUpdateSeconds)
  sim.../rebooting                         rebooting: Ready=Unknown until the boot time, and for
                                           ever if CRI-O cannot start on the new config
  desiredDrain=uncordon-X                  applied; waiting for the uncordon, then Done

The reboot counter is incremented in the same patch that marks the reboot
(and, from release-4.15, sets post-config-action=Rebooting), guarded by the
node's resourceVersion, so a reboot is counted exactly once whatever crashes when.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import TYPE_CHECKING

from . import crio, drain, lifecycle, mcd, releases
from . import pools as P
from .constants import (
    ARCH_LABEL,
    CONTROL_PLANE_TOPOLOGY,
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    DESIRED_DRAIN,
    EVENT_COMPONENT_DAEMON,
    FAULT_CRIO,
    FAULT_FAIL,
    FAULT_HANG,
    LAST_APPLIED_DRAIN,
    MCO_NAMESPACE,
    OS_ID_LABEL,
    POST_CONFIG_ACTION,
    REASON,
    REBOOTED_AT,
    REBOOTING,
    REBOOTS,
    SIM_REBOOTING,
    STATE,
    STATE_DEGRADED,
    STATE_DONE,
    STATE_UNRECONCILABLE,
    STATE_WORKING,
    UPDATE_STARTED,
    UPDATE_TARGET,
)
from .kube import ApiError, mc_path, now_micro, now_rfc3339, parse_time, pod_path, ref
from .podstatus import evictable
from .simulator import Requeue

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger("sim.daemon")

# Where the phases end, as fractions of the node update time T, from the update's start.
APPLY = 0.35  # drained -> reboot (files, rpm-ostree --install)
BOOTED = 0.8  # -> Ready again (and at least MIN_DOWN after the reboot began)
MIN_DOWN = 0.3
REBOOTLESS = 0.2  # a change without reboot (files only, CRI-O reload) takes this long
HANG_PHASES = ("drain", "apply", "reboot")


def hang_phase(value: str | None) -> str | None:
    if value is None:
        return None
    return value if value in HANG_PHASES else "apply"


class Daemon:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.drain_started: dict[str, float] = {}
        self.failures: dict[str, tuple[int, float]] = {}  # node -> (failed attempts, next retry)
        self.crio_failed: dict[str, str] = {}  # node -> CRI-O's error already logged
        self._diffs: dict[tuple[str, str, str, str], list[str]] = {}

    def forget(self, name: str) -> None:
        self.drain_started.pop(name, None)
        self.failures.pop(name, None)
        self.crio_failed.pop(name, None)

    # -- decisions ---------------------------------------------------------------------

    def _actions(self, cur: str, des: str) -> list[str]:
        sim = self.sim
        old, new = sim.mcs.get(cur), sim.mcs.get(des)
        rel = sim.knobs.release
        key = (cur, des, str((old or {}).get("metadata", {}).get("resourceVersion")),
               str((new or {}).get("metadata", {}).get("resourceVersion")), rel.version)
        got = self._diffs.get(key)
        if got is None:
            got = mcd.post_config_actions(mcd.diff(old, new), rel) if new is not None else [mcd.ACTION_REBOOT]
            if len(self._diffs) > 2000:
                self._diffs.clear()
            self._diffs[key] = got
        return got

    def validate(self, node: dict, old: dict | None, mc: dict) -> str | None:
        """What applyExtensions fails with for this node (allow-list, packages rpm-ostree cannot find).

        A CRI-O configuration CRI-O cannot load is not the daemon's business: it
        applies it and reboots; CRI-O then fails at boot (see _rebooting).
        """
        knobs = self.sim.knobs
        old_exts = ((old or {}).get("spec") or {}).get("extensions") or []
        new_exts = (mc.get("spec") or {}).get("extensions") or []
        return mcd.apply_extensions_error(old_exts, new_exts, node_os(node), node_arch(node), knobs.release,
                                          knobs.extensions)

    def crio_error(self, node: dict, mc: dict | None) -> str | None:
        """Why CRI-O exits at boot on this node with config `mc` (the fault, or its own error)."""
        fault = P.annotations(node).get(FAULT_CRIO)
        if fault is not None:
            return fault
        conf = self.sim.kubelet.crio_config_for(node, mc)
        return conf if isinstance(conf, str) else None

    # -- the state machine ----------------------------------------------------------------

    def sync(self, name: str) -> None:
        sim = self.sim
        node = sim.nodes.get(name)
        if node is None or node["metadata"].get("deletionTimestamp") or P.is_windows(node):
            return
        taints = lifecycle.wanted_taints(node)
        if taints is not None:
            sim.patch_node(node, spec={"taints": taints or None})
            return
        a = P.annotations(node)
        if not a.get(CURRENT_CONFIG):
            self._seed(node)
            return
        if SIM_REBOOTING in a:
            self._rebooting(node)
            return
        cur = a[CURRENT_CONFIG]
        des = a.get(DESIRED_CONFIG) or cur
        if des == cur:
            self._idle(node)
            return
        self._update(node, cur, des)

    def _seed(self, node: dict) -> None:
        """A new node boots with what the Machine Config Server serves for its pool; its initial annotations are
        those of the MCS (pkg/server/server.go getNodeAnnotation, release-4.14 to release-4.21: currentConfig,
        desiredConfig, state Done; firstPivotConfig comes only from 4.22, which this simulator does not model)."""
        try:
            pool = P.primary_pool(node, self.sim.pools.items())
        except P.PoolMembershipError:
            return
        if pool is None:
            return
        served = P.served_config(pool)
        if not served:
            return  # the pool has not rendered yet; its first render requeues us
        if self.sim.patch_node(node, annotations={
            CURRENT_CONFIG: served, DESIRED_CONFIG: served, STATE: STATE_DONE,
            CONTROL_PLANE_TOPOLOGY: self.sim.knobs.control_plane_topology,
            REBOOTS: P.annotations(node).get(REBOOTS) or "0",
        }):
            log.info("node %s: first boot with %s (pool %s)", P.name(node), served, P.name(pool))
            self._report_handlers(node, self.sim.mcs.get(served))

    def _report_handlers(self, node: dict, booted: dict | None) -> None:
        """What the kubelet reports of CRI-O's handlers on a node booted into `booted` (see _set_ready)."""
        if not self.sim.knobs.release.runtime_handlers_reported:
            return
        conf = self.sim.kubelet.crio_config_for(node, booted)
        if not isinstance(conf, str):
            self.sim.patch_node_status(node, {"runtimeHandlers": crio.runtime_handlers(conf)})

    def _idle(self, node: dict) -> None:
        a = P.annotations(node)
        fail = a.get(FAULT_FAIL)
        self.failures.pop(P.name(node), None)
        state = a.get(STATE)
        if fail is not None:
            # Failing its check of the on-disk state: Degraded until the fault goes.
            if state != STATE_DEGRADED or a.get(REASON) != fail[:2000]:
                self._degrade(node, fail)
            return
        ann: dict[str, str | None] = {}
        if state != STATE_DONE:
            ann.update({STATE: STATE_DONE, REASON: ""})
        if UPDATE_STARTED in a or UPDATE_TARGET in a:
            ann.update({UPDATE_STARTED: None, UPDATE_TARGET: None})
        if ann:
            self.sim.patch_node(node, annotations=ann)

    def _degrade(self, node: dict, reason: str, *, backoff: bool = False) -> None:
        """updateErrorState: state=Degraded with the error (2000 characters at most).

        With `backoff`, the next attempt waits as the MCD's rate-limited queue
        makes it (1 s, 2 s, 4 s ... 60 s here); a fault's removal retries at once.
        """
        name = P.name(node)
        if self.sim.patch_node(node, annotations={STATE: STATE_DEGRADED, REASON: reason[:2000],
                                                  UPDATE_STARTED: None}) is None:
            return
        log.warning("node %s: marking Degraded due to: %s", name, reason)
        if backoff:
            n = self.failures.get(name, (0, 0.0))[0] + 1
            self.failures[name] = (n, time.monotonic() + min(60.0, 2.0 ** (n - 1)))

    def _update(self, node: dict, cur: str, des: str) -> None:
        sim = self.sim
        name = P.name(node)
        a = P.annotations(node)
        state = a.get(STATE)
        target_mc = sim.mcs.get(des)
        if target_mc is None:
            sim.refresh(sim.mcs, mc_path(des))
            target_mc = sim.mcs.get(des)
            if target_mc is None:
                self._degrade(node, f'machineconfig.machineconfiguration.openshift.io "{des}" not found',
                              backoff=True)
                return
        started = parse_time(a.get(UPDATE_STARTED))
        if state == STATE_DEGRADED and a.get(FAULT_FAIL) is None and name in self.failures:
            wait = self.failures[name][1] - time.monotonic()
            if wait > 0:
                raise Requeue(wait)
        if a.get(UPDATE_TARGET) != des or started is None:
            ann: dict[str, str | None] = {UPDATE_TARGET: des, UPDATE_STARTED: now_micro()}
            if state not in (STATE_DEGRADED, STATE_UNRECONCILABLE):
                ann[STATE] = STATE_WORKING  # SetWorking; a Degraded node stays so until it is Done
            if sim.patch_node(node, annotations=ann):
                log.info("node %s: starting update from %s to %s", name, cur, des)
            return
        fail = a.get(FAULT_FAIL)
        if state == STATE_DEGRADED and fail is not None:
            return  # waits for the fault to go away; the node event requeues us
        T = sim.knobs.node_update
        actions = self._actions(cur, des)
        reboot = mcd.ACTION_REBOOT in actions
        if a.get(DESIRED_DRAIN) == f"uncordon-{des}":
            self._finish(node, des, started + (T if reboot else REBOOTLESS * T))
            return
        if mcd.drain_required(actions, sim.knobs.control_plane_topology):
            want = f"drain-{des}"
            if a.get(LAST_APPLIED_DRAIN) != want:
                if a.get(DESIRED_DRAIN) != want:
                    self._event(node, "Normal", "Cordon", "Cordoned node to apply update")
                    self._event(node, "Normal", "Drain", "Draining node to update config.")
                    sim.patch_node(node, annotations={DESIRED_DRAIN: want})
                    return
                t0 = self.drain_started.setdefault(name, time.monotonic())
                if time.monotonic() - t0 > sim.knobs.drain_timeout:
                    self.drain_started.pop(name, None)
                    msg = (f"failed to drain node: {name} after 1 hour. Please see machine-config-controller "
                           "logs for more information")
                    self._event(node, "Warning", "FailedToDrain", msg)
                    self._degrade(node, msg, backoff=True)
                    return
                raise Requeue(min(10.0, max(1.0, sim.knobs.drain_timeout - (time.monotonic() - t0))))
        self.drain_started.pop(name, None)
        if hang_phase(a.get(FAULT_HANG)) == "apply":
            return
        apply_until = started + (APPLY if reboot else REBOOTLESS) * T
        now = time.time()
        if now < apply_until:
            raise Requeue(apply_until - now)
        if fail is not None:
            self._degrade(node, fail)
            return
        err = self.validate(node, sim.mcs.get(cur), target_mc)
        if err:
            self._degrade(node, err, backoff=True)
            return
        if reboot:
            count = int(a.get(REBOOTS) or "0") + 1
            ann = {SIM_REBOOTING: des, REBOOTS: str(count), REBOOTED_AT: now_micro()}
            if sim.knobs.release.post_config_action:  # Daemon.reboot(), release-4.15 update.go:2418-2425
                ann[POST_CONFIG_ACTION] = REBOOTING
            if sim.patch_node(node, annotations=ann):
                log.info("node %s: rebooting into %s (reboot %d)", name, des, count)
                # The kubelet stops with the reboot: NotReady from now on, not only once the next sync comes, which
                # on a loaded machine could be after the boot time and would skip the boot (and CRI-O failing at it).
                self._set_ready(node, False)
                changes = mcd.diff(sim.mcs.get(cur), target_mc).os_changes()
                if changes:
                    self._event(node, "Normal", "OSUpdateStarted", changes)
                    self._event(node, "Normal", "OSUpdateStaged", "Changes to OS staged")
                self._event(node, "Normal", "Reboot", f"Node will reboot into config {des}")
            return
        if mcd.ACTION_RELOAD_CRIO in actions:
            msg = "Config changes do not require reboot. Service crio was reloaded."
        else:
            msg = "Config changes do not require reboot."
        self._event(node, "Normal", "SkipReboot", msg)
        sim.patch_node(node, annotations={DESIRED_DRAIN: f"uncordon-{des}"})

    def _rebooting(self, node: dict) -> None:
        sim = self.sim
        a = P.annotations(node)
        T = sim.knobs.node_update
        now = time.time()
        rebooted = parse_time(a.get(REBOOTED_AT)) or now
        started = parse_time(a.get(UPDATE_STARTED)) or rebooted
        boot_at = max(rebooted + MIN_DOWN * T, started + BOOTED * T)
        ready = _ready_status(node) == "True"
        hang = hang_phase(a.get(FAULT_HANG)) == "reboot"
        if hang or now < boot_at:
            if ready:
                self._set_ready(node, False)
            if not hang:
                raise Requeue(boot_at - now)
            return
        des = a.get(DESIRED_CONFIG, "")
        if not ready:
            err = self.crio_error(node, sim.mcs.get(a.get(SIM_REBOOTING) or des))
            if err is not None:
                # CRI-O exits, the kubelet cannot reach its socket and exits too: no status, no
                # Lease, and the MCD (a pod) never runs, so nothing reports (kubelet server.go PreInitRuntimeService).
                if self.crio_failed.get(P.name(node)) != err:
                    self.crio_failed[P.name(node)] = err
                    log.warning("node %s: crio.service failed after the reboot: %s", P.name(node), err)
                return
            self.crio_failed.pop(P.name(node), None)
            self._set_ready(node, True, sim.mcs.get(a.get(SIM_REBOOTING) or des))
            return
        log.info("node %s: booted into %s", P.name(node), des)
        ann: dict[str, str | None] = {SIM_REBOOTING: None, DESIRED_DRAIN: f"uncordon-{des}"}
        if a.get(POST_CONFIG_ACTION) == REBOOTING:
            # the MCD's syncNode after the boot: SetAnnotations({post-config-action: ""}), the key stays
            # (release-4.15 daemon.go:671-691)
            ann[POST_CONFIG_ACTION] = ""
        sim.patch_node(node, annotations=ann)

    def _finish(self, node: dict, des: str, done_at: float) -> None:
        a = P.annotations(node)
        want = f"uncordon-{des}"
        if a.get(LAST_APPLIED_DRAIN) != want:
            return  # the drain controller uncordons; its write requeues us
        now = time.time()
        if now < done_at:
            raise Requeue(done_at - now)
        self.sim.patch_node(node, annotations={CURRENT_CONFIG: des, STATE: STATE_DONE, REASON: "",
                                               UPDATE_STARTED: None, UPDATE_TARGET: None})
        self.failures.pop(P.name(node), None)
        log.info("node %s: update to %s done", P.name(node), des)
        self._event(node, "Normal", "Uncordon", f"Update completed for config {des} and node has been uncordoned")
        self._event(node, "Normal", "NodeDone", f"Setting node {P.name(node)}, currentConfig {des} to Done")

    def _set_ready(self, node: dict, ready: bool, booted: dict | None = None) -> None:
        now = now_rfc3339()
        if ready:
            cond = {"type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                    "lastTransitionTime": now}
            boot_id = str(uuid.UUID(hashlib.md5(f"{P.name(node)}/{time.time_ns()}".encode()).hexdigest()))
            self.sim.patch_node_status(node, {"conditions": [cond], "nodeInfo": {"bootID": boot_id}})
            # The kubelet's first status after its start carries the handlers CRI-O loaded at boot
            # (updateRuntimeUp, then the RuntimeHandlers setter; pkg/kubelet/kubelet.go, kubelet_node_status.go).
            self._report_handlers(node, booted)
        else:
            cond = {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": now,
                    "lastTransitionTime": now}
            self.sim.patch_node_status(node, {"conditions": [cond]})

    def _event(self, node: dict, etype: str, reason: str, message: str) -> None:
        involved = ref({**node, "apiVersion": "v1", "kind": "Node"})
        self.sim.events.emit(involved, etype, reason, message, EVENT_COMPONENT_DAEMON, host=P.name(node),
                             namespace="default")


class DrainController:
    """pkg/controller/drain: cordon and drain, or uncordon, as desiredDrain asks.

    A drain is a run of kubectl's drain helper: a refused eviction (a PodDisruptionBudget) is retried every
    drain_retry s until drain_helper_timeout; a failed run is retried after drain_requeue, or drain_requeue_failing
    once the drain has failed for drain_requeue_failing_threshold; past drain_timeout each sync logs "drain exceeded
    timeout" (and, from 4.19, a DrainFailed event) and retries go on (see sim/drain.py; the daemon degrades on its
    own clock). The 5 s UpdateDelay before a node's first sync is folded into nodeUpdateSeconds.
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.ongoing: dict[str, float] = {}  # ongoingDrains: when the controller cordoned the node
        self.helper_started: dict[str, float] = {}  # the current run of the drain helper

    def timings(self) -> drain.Timings:
        k = self.sim.knobs
        return drain.Timings(eviction_retry=k.drain_retry, helper_timeout=k.drain_helper_timeout,
                             requeue=k.drain_requeue, failing_threshold=k.drain_requeue_failing_threshold,
                             requeue_failing=k.drain_requeue_failing, timeout=k.drain_timeout)

    def sync(self, name: str) -> None:
        sim = self.sim
        node = sim.nodes.get(name)
        if node is None or node["metadata"].get("deletionTimestamp"):
            return
        a = P.annotations(node)
        desired = a.get(DESIRED_DRAIN, "")
        if not desired or desired == a.get(LAST_APPLIED_DRAIN):
            return
        verb = desired.split("-", 1)[0]
        unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
        if verb == "uncordon":
            self._forget(name)
            sim.patch_node(node, annotations={LAST_APPLIED_DRAIN: desired},
                           spec={"unschedulable": None} if unschedulable else None)
            return
        if verb != "drain":
            log.warning("node %s: unknown drain request %r", name, desired)
            return
        if hang_phase(a.get(FAULT_HANG)) == "drain":
            return
        if not unschedulable:
            log.info("node %s: cordoning", name)
            self.ongoing.setdefault(name, time.monotonic())
            sim.patch_node(node, spec={"unschedulable": True})
            return
        self._drain(node, name, desired)

    def _forget(self, name: str) -> None:
        self.ongoing.pop(name, None)
        self.helper_started.pop(name, None)

    def _drain(self, node: dict, name: str, desired: str) -> None:
        sim, t, now = self.sim, self.timings(), time.monotonic()
        began = self.ongoing.setdefault(name, now)
        if now - began > t.timeout:
            log.error(drain.exceeded(name, t))
            self._event(node, "DrainFailed", drain.exceeded(name, t))
        waiting, refused = self._evict(name)
        if refused:
            run = self.helper_started.setdefault(name, now)
            if now - run < t.helper_timeout:
                raise Requeue(t.eviction_retry)
            self.helper_started.pop(name, None)
            delay, line, reason = drain.after_failure(now - began, drain.global_timeout(*refused[0], t), t)
            log.info("node %s: %s", name, line)
            if reason:
                self._event(node, reason, line)
            raise Requeue(delay)
        if waiting:
            raise Requeue(1.0)  # pod deletions requeue us sooner
        log.info("node %s: drained", name)
        self._forget(name)
        sim.patch_node(node, annotations={LAST_APPLIED_DRAIN: desired})

    def _evict(self, name: str) -> tuple[int, list[tuple[str, str]]]:
        """One pass of evictions: (pods still going, (namespace, name) of the evictions a budget refused)."""
        waiting, refused = 0, []
        for pod in self.sim.pods_on(name):
            if not evictable(pod):
                continue
            md = pod["metadata"]
            if md.get("deletionTimestamp"):
                waiting += 1
                continue
            try:
                self.sim.kube.create(pod_path(md["namespace"], md["name"]) + "/eviction", {
                    "apiVersion": "policy/v1", "kind": "Eviction",
                    "metadata": {"name": md["name"], "namespace": md["namespace"]},
                })
                waiting += 1
            except ApiError as e:
                if e.not_found:
                    continue
                if e.status != 429:
                    raise
                refused.append((md["namespace"], md["name"]))
                log.info("node %s: %s", name, drain.eviction_retry(md["namespace"], md["name"]))
        return waiting, refused

    def _event(self, node: dict, reason: str, message: str) -> None:
        if not drain.has_events(self.sim.knobs.release.version):
            return
        # ctrlcommon.NamespacedEventRecorder: the event and its object's reference are in the MCO's namespace.
        involved = ref({**node, "apiVersion": "v1", "kind": "Node"}, MCO_NAMESPACE)
        self.sim.events.emit(involved, "Warning", reason, message, drain.EVENT_COMPONENT, namespace=MCO_NAMESPACE)


def node_os(node: dict) -> str:
    """rhcos, scos or fcos, from the node's os_id label (rhcos if it has none)."""
    labels = node["metadata"].get("labels") or {}
    return releases.OS_OF_ID.get(labels.get(OS_ID_LABEL, "rhcos"), "rhcos")


def node_arch(node: dict) -> str:
    return (node["metadata"].get("labels") or {}).get(ARCH_LABEL, "amd64")


def _ready_status(node: dict) -> str | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status")
    return None
