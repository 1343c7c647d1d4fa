"""The kubelets of the simulated nodes: pod status, sandbox errors, heartbeats.

A pod the scheduler binds to a simulated node starts at once (Running, with a
pod IP from the node's pod CIDR) if CRI-O on that node has the pod's runtime
handler, as configured by the node's *current* rendered MachineConfig (see
crio.py). Otherwise it stays Pending with the kubelet's FailedCreatePodSandBox
event carrying CRI-O's error, retried as the kubelet does. Deleted pods are
removed at once (there are no processes to stop). Jobs' pods finish.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from . import crio, podstatus, render
from . import pools as P
from .constants import CURRENT_CONFIG, EVENT_COMPONENT_KUBELET, POST_CONFIG_ACTION, REBOOTING
from .knobs import SUPPORTED_EXTENSIONS_4_21
from .kube import ApiError, now_micro, now_rfc3339, parse_time, pod_path, ref
from .simulator import Requeue

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger("sim.kubelet")

SANDBOX_RETRY = 20.0  # the kubelet's pod worker backs off; the event count goes up each time
LEASE_NS = "kube-node-lease"


class Kubelet:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._crio: dict[tuple[str, str], crio.CrioConfig | str] = {}
        self._attempts: dict[str, tuple[float, str]] = {}  # pod uid -> last sandbox attempt

    def crio_config(self, node: dict) -> crio.CrioConfig | str:
        """CRI-O's runtime configuration on the node, or why CRI-O is down."""
        name = P.annotations(node).get(CURRENT_CONFIG, "")
        mc = self.sim.mcs.get(name) if name else None
        key = (name, str((mc or {}).get("metadata", {}).get("resourceVersion")))
        got = self._crio.get(key)
        if got is None:
            try:
                exts = ((mc or {}).get("spec") or {}).get("extensions") or []
                got = crio.load(render.rendered_config(mc), exts, SUPPORTED_EXTENSIONS_4_21)
            except crio.CrioError as e:
                got = str(e)
            if len(self._crio) > 500:
                self._crio.clear()
            self._crio[key] = got
        return got

    def sync_pod(self, key: str) -> None:
        sim = self.sim
        pod = sim.pods.get(key)
        if pod is None:
            return
        spec, md = pod.get("spec") or {}, pod["metadata"]
        node = sim.nodes.get(spec.get("nodeName") or "")
        if node is None:
            return
        if md.get("deletionTimestamp"):
            self._delete(pod)
            return
        status = pod.get("status") or {}
        phase = status.get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        if _node_down(node):
            return  # the node's kubelet is not running; its return requeues the pod
        host_ip = _host_ip(node)
        if phase == "Running":
            self._maybe_complete(pod, host_ip)
            return
        handler = ""
        rc_name = spec.get("runtimeClassName")
        if rc_name:
            rc = sim.runtimeclasses.get(rc_name)
            if rc is None:
                self._sandbox_failed(pod, node, host_ip, f'runtimeclass.node.k8s.io "{rc_name}" not found',
                                     wrap=False)
                return
            handler = rc.get("handler", "")
        conf = self.crio_config(node)
        if isinstance(conf, str):
            err = ("rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while "
                   "dialing: dial unix /var/run/crio/crio.sock: connect: no such file or directory\"")
            self._sandbox_failed(pod, node, host_ip, err, wrap=False)
            return
        err = crio.handler_error(handler, conf, node["metadata"].get("uid", P.name(node)))
        if err:
            self._sandbox_failed(pod, node, host_ip, err, wrap=True)
            return
        used = {(p.get("status") or {}).get("podIP") for p in sim.pods_on(P.name(node))}
        cidr = (node.get("spec") or {}).get("podCIDR") or "10.128.0.0/23"
        ip = host_ip if spec.get("hostNetwork") else podstatus.allocate_ip(cidr, {u for u in used if u})
        self._write_status(pod, podstatus.running(pod, host_ip, ip, now_rfc3339()))
        pod = sim.pods.get(key) or pod
        self._maybe_complete(pod, host_ip)

    def _maybe_complete(self, pod: dict, host_ip: str) -> None:
        after = podstatus.completes_after(pod, self.sim.knobs.job_pod_seconds)
        if after is None:
            return
        seconds, code = after
        started = parse_time((pod.get("status") or {}).get("startTime")) or time.time()
        left = started + seconds - time.time()
        if left > 0:
            raise Requeue(left)
        self._write_status(pod, podstatus.terminated(pod, host_ip, now_rfc3339(), code))

    def _sandbox_failed(self, pod: dict, node: dict, host_ip: str, err: str, *, wrap: bool) -> None:
        status = podstatus.sandbox_failed(pod, host_ip, now_rfc3339())
        old = pod.get("status") or {}
        msg = podstatus.sandbox_event_message(err) if wrap else f"Failed to create pod sandbox: {err}"
        uid = pod["metadata"].get("uid", "")
        last = self._attempts.get(uid)
        now = time.monotonic()
        if last is not None and last[1] == msg and now - last[0] < SANDBOX_RETRY:
            raise Requeue(SANDBOX_RETRY - (now - last[0]))  # the pod worker's back-off
        self._attempts[uid] = (now, msg)
        if len(self._attempts) > 5000:
            self._attempts.clear()
        if {k: old.get(k) for k in status} != status:
            self._write_status(pod, status)
        self.sim.events.emit(ref({**pod, "apiVersion": "v1", "kind": "Pod"}), "Warning", "FailedCreatePodSandBox",
                             msg, EVENT_COMPONENT_KUBELET, host=P.name(node))
        raise Requeue(SANDBOX_RETRY)

    def _write_status(self, pod: dict, status: dict) -> None:
        md = pod["metadata"]
        try:
            out = self.sim.kube.merge_patch(pod_path(md["namespace"], md["name"]) + "/status", {"status": status})
        except ApiError as e:
            if e.not_found:
                return
            raise
        self.sim.pods.apply(out)

    def _delete(self, pod: dict) -> None:
        md = pod["metadata"]
        try:
            self.sim.kube.delete(pod_path(md["namespace"], md["name"]),
                                 {"gracePeriodSeconds": 0, "preconditions": {"uid": md.get("uid")}})
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise

    # -- heartbeats ----------------------------------------------------------------

    def heartbeat(self, name: str) -> None:
        sim = self.sim
        node = sim.nodes.get(name)
        if node is None:
            return
        if not _node_down(node):
            now = now_rfc3339()
            conds = [{"type": c["type"], "lastHeartbeatTime": now}
                     for c in (node.get("status") or {}).get("conditions") or [] if c.get("type")]
            if conds:
                sim.patch_node_status(node, {"conditions": conds})
            self._renew_lease(node)
        sim.enqueue(("heartbeat", name), sim.knobs.heartbeat)

    def _renew_lease(self, node: dict) -> None:
        name = P.name(node)
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases/{name}"
        try:
            self.sim.kube.merge_patch(path, {"spec": {"renewTime": now_micro(), "holderIdentity": name}})
        except ApiError as e:
            if not e.not_found:
                raise
            self.sim.kube.create(f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": LEASE_NS, "ownerReferences": [{
                    "apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"].get("uid")}]},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_micro()},
            })


def _node_down(node: dict) -> bool:
    if P.annotations(node).get(POST_CONFIG_ACTION) == REBOOTING:
        return True
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") != "True"
    return False


def _host_ip(node: dict) -> str:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return a.get("address", "")
    return ""
