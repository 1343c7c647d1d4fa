"""The kubelets of the simulated nodes: pod status, sandbox and container config errors, heartbeats.

A pod the scheduler binds to a simulated node starts at once (Running, with a
pod IP from the node's pod CIDR) if CRI-O on that node has the pod's runtime
handler, as configured by the node's *current* rendered MachineConfig and the
RPMs its extensions layered (see crio.py). Otherwise it stays Pending with the
kubelet's FailedCreatePodSandBox event carrying CRI-O's error, retried as the
kubelet does. A container that would run as root against runAsNonRoot waits
with CreateContainerConfigError (verifyRunAsNonRoot). Deleted pods are removed
at once (there are no processes to stop). Jobs' pods finish.

The kubelets' HTTPS endpoint serves containerLogs (kubelet_api.py): a
container's log is what its command prints (workload.py) on the kernel its
sandbox runs: a guest kernel for a handler CRI-O runs as a VM, the node's
otherwise.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from . import crio, mcd, podstatus, releases, render, workload
from . import pools as P
from .constants import (
    ARCH_LABEL,
    CURRENT_CONFIG,
    EVENT_COMPONENT_KUBELET,
    FAULT_NATIVE,
    HOSTNAME_LABEL,
    OS_ID_LABEL,
    SIM_REBOOTING,
)
from .kube import ApiError, now_micro, now_rfc3339, parse_time, pod_path, ref
from .simulator import Requeue

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger("sim.kubelet")

SANDBOX_RETRY = 20.0  # the kubelet's pod worker backs off; the event count goes up each time
CONFIG_RETRY = 10.0  # a failed pod sync is retried after backOffPeriod (10 s, pkg/kubelet/kubelet.go)
LEASE_NS = "kube-node-lease"


class Kubelet:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._crio: dict[tuple[str, str], crio.CrioConfig | str] = {}
        self._attempts: dict[str, tuple[float, str]] = {}  # pod uid -> last sandbox attempt
        # pod uid -> the kernel its sandbox was started on (CRI-O's memory; rebuilt from the API after a restart)
        self._sandboxes: dict[str, workload.Kernel] = {}

    def crio_config(self, node: dict) -> crio.CrioConfig | str:
        """CRI-O's runtime configuration on the node (its current config), or why CRI-O is down."""
        name = P.annotations(node).get(CURRENT_CONFIG, "")
        return self.crio_config_for(node, self.sim.mcs.get(name) if name else None)

    def crio_config_for(self, node: dict, mc: dict | None) -> crio.CrioConfig | str:
        """CRI-O's configuration on this node booted into `mc`, or CRI-O's start-up error."""
        labels = node["metadata"].get("labels") or {}
        os_name = releases.OS_OF_ID.get(labels.get(OS_ID_LABEL, "rhcos"), "rhcos")
        arch = labels.get(ARCH_LABEL, "amd64")
        rel = self.sim.knobs.release
        md = (mc or {}).get("metadata", {})
        key = (md.get("name", ""), str(md.get("resourceVersion")), os_name, arch, rel.version)
        got = self._crio.get(key)
        if got is None:
            try:
                exts = ((mc or {}).get("spec") or {}).get("extensions") or []
                packages = mcd.installed_packages(exts, os_name, arch, rel)
                got = crio.load(render.rendered_config(mc), sorted(packages), rel)
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
        ip = (pod.get("status") or {}).get("podIP")  # the sandbox exists already
        if not ip:
            used = {(p.get("status") or {}).get("podIP") for p in sim.pods_on(P.name(node))}
            cidr = (node.get("spec") or {}).get("podCIDR") or "10.128.0.0/23"
            ip = host_ip if spec.get("hostNetwork") else podstatus.allocate_ip(cidr, {u for u in used if u})
        errors = self._config_errors(pod)
        if errors:
            self._config_failed(pod, node, host_ip, ip, errors)
            return
        self._sandboxes[md.get("uid", "")] = self._sandbox_kernel(pod, node, conf, handler)
        if len(self._sandboxes) > 5000:
            self._sandboxes.clear()
        self._write_status(pod, podstatus.running(pod, host_ip, ip, now_rfc3339()))
        pod = sim.pods.get(key) or pod
        self._maybe_complete(pod, host_ip)

    # -- what runs in the sandbox -------------------------------------------------

    @staticmethod
    def _sandbox_kernel(pod: dict, node: dict, conf: crio.CrioConfig, handler: str) -> workload.Kernel:
        """The kernel CRI-O starts the pod's containers on: a VM's for a `vm` handler, unless the node's
        runs-native fault names the handler; the node's for the rest."""
        native = {h.strip() for h in P.annotations(node).get(FAULT_NATIVE, "").split(",") if h.strip()}
        name = handler or conf.default_runtime
        if workload.runs_in_vm(conf.runtimes.get(name)) and name not in native:
            return workload.guest_kernel(node, pod["metadata"].get("uid", ""))
        return workload.node_kernel(node)

    def kernel_of(self, pod: dict, node: dict) -> workload.Kernel:
        """The kernel a running pod's containers see (after a restart: as its sandbox would be started now)."""
        got = self._sandboxes.get(pod["metadata"].get("uid", ""))
        if got is not None:
            return got
        rc = self.sim.runtimeclasses.get((pod.get("spec") or {}).get("runtimeClassName") or "")
        conf = self.crio_config(node)
        if isinstance(conf, str):
            return workload.node_kernel(node)
        return self._sandbox_kernel(pod, node, conf, (rc or {}).get("handler", ""))

    def node_at(self, host: str, port: int) -> dict | None:
        """The node whose kubelet listens at host:port (an address of the node, its kubelet port)."""
        for node in self.sim.nodes.items():
            status = node.get("status") or {}
            kport = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
            names = {a.get("address") for a in status.get("addresses") or []}
            names.add((node["metadata"].get("labels") or {}).get(HOSTNAME_LABEL))
            if port == kport and host in names:
                return node
        return None

    def _config_errors(self, pod: dict) -> dict[str, str]:
        """generateContainerConfig's failures, by container (init containers first, as started)."""
        knobs = self.sim.knobs
        minor = int(knobs.release.kubernetes.split(".")[1])
        spec = pod.get("spec") or {}
        out: dict[str, str] = {}
        for c in spec.get("initContainers") or []:
            err = podstatus.verify_run_as_non_root(pod, c, knobs.image_user(c.get("image", "")), minor)
            if err:
                return {c["name"]: err}  # the next ones never start
        for c in spec.get("containers") or []:
            err = podstatus.verify_run_as_non_root(pod, c, knobs.image_user(c.get("image", "")), minor)
            if err:
                out[c["name"]] = err
        return out

    def _config_failed(self, pod: dict, node: dict, host_ip: str, ip: str, errors: dict[str, str]) -> None:
        """startContainer's failure: a Warning event `Failed` "Error: <err>" per container, the pod
        Pending with CreateContainerConfigError; the pod worker retries after its back-off."""
        uid = pod["metadata"].get("uid", "")
        msg = "; ".join(errors.values())
        last = self._attempts.get(uid)
        now = time.monotonic()
        if last is not None and last[1] == msg and now - last[0] < CONFIG_RETRY:
            raise Requeue(CONFIG_RETRY - (now - last[0]))
        self._attempts[uid] = (now, msg)
        status = podstatus.config_error(pod, host_ip, ip, now_rfc3339(), errors)
        old = pod.get("status") or {}
        if {k: old.get(k) for k in status} != status:
            self._write_status(pod, status)
        involved = ref({**pod, "apiVersion": "v1", "kind": "Pod"})
        inits = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []}
        for name, err in errors.items():
            field = "initContainers" if name in inits else "containers"
            self.sim.events.emit({**involved, "fieldPath": f"spec.{field}{{{name}}}"}, "Warning", "Failed",
                                 f"Error: {err}", EVENT_COMPONENT_KUBELET, host=P.name(node))
        raise Requeue(CONFIG_RETRY)

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
        self._sandboxes.pop(md.get("uid", ""), None)
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
    if SIM_REBOOTING in P.annotations(node):
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
