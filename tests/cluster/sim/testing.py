"""Helpers for tests that run against the simulated cluster.

    from sim import testing as st
    api = cluster.api()                       # a kubernetes ApiClient (admin)
    st.reset(api, render_delay=1, node_update=0.5)
    st.create_mc(api, st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"],
                                        files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()}))
    st.wait_pool_converged(api, "worker", contains=["50-kata"])
    assert st.reboots(api) == {"master-0": 0, ..., "worker-0": 1, ...}

Every function takes the ApiClient (or a sim.kube.Kube). Nothing here reaches
into the simulator process: it only reads and writes API objects, like any
client of a real cluster would, plus the simulator's own knobs and fault
annotations.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from . import manifests as M
from . import pools as P
from . import render
from . import topology as topo
from .constants import (
    CURRENT_CONFIG,
    DEGRADED,
    DESIRED_CONFIG,
    FAULT_CRIO,
    FAULT_FAIL,
    FAULT_HANG,
    FAULT_NATIVE,
    INITIAL_ANNOTATION,
    KNOBS_CONFIGMAP,
    KNOBS_NAMESPACE,
    MCO_API,
    NODE_DEGRADED,
    REASON,
    REBOOTS,
    RENDER_DEGRADED,
    RENDERED_PREFIX,
    ROLE_LABEL,
    STATE,
    STATE_DONE,
    UPDATED,
    UPDATING,
)
from .knobs import KEYS, Knobs
from .kube import ApiError, Informer, Kube, cm_path, mc_path, mcp_path, node_path

SHIPPED_SELECTORS = {
    "master": ({"matchLabels": {ROLE_LABEL: "master"}}, {"matchLabels": {"node-role.kubernetes.io/master": ""}}),
    "worker": ({"matchLabels": {ROLE_LABEL: "worker"}}, {"matchLabels": {"node-role.kubernetes.io/worker": ""}}),
}


class PoolDegraded(AssertionError):
    """A pool reports Degraded, NodeDegraded or RenderDegraded while we wait for it."""


def kube(api: client.ApiClient | Kube) -> Kube:
    return api if isinstance(api, Kube) else Kube(api)


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1, what: str = "") -> Any:
    """Polls until `predicate()` is truthy and returns its value; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(interval)


# -- knobs ---------------------------------------------------------------------------

_KNOB_ARGS = {attr: key for key, attr in KEYS.items()}


def knobs(api: client.ApiClient | Kube) -> Knobs:
    return Knobs.from_data(kube(api).get(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP)).get("data"))


def _knob_value(v: Any) -> str:
    if isinstance(v, dict):  # image_users
        return ",".join(f"{i}={u}" for i, u in v.items())
    return ",".join(v) if isinstance(v, (list, tuple)) else str(v)


def configure(api: client.ApiClient | Kube, **values: Any) -> dict[str, str]:
    """Changes knobs of the running simulator; returns the previous ConfigMap data.

    Names: render_delay, node_update, openshift_version (simulator behaviour only:
    the API server's version stays), supported_extensions (list), extension_validation,
    topology, heartbeat, job_pod_seconds, drain_retry, drain_timeout, image_users
    ({image: user}), default_image_user. It takes effect within milliseconds (the
    simulator watches the ConfigMap).
    """
    k = kube(api)
    cm = k.get(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP))
    old = dict(cm.get("data") or {})
    data = {}
    for attr, v in values.items():
        if v is None:
            continue
        key = _KNOB_ARGS.get(attr)
        if key is None:
            raise TypeError(f"unknown knob {attr!r}; one of {', '.join(sorted(_KNOB_ARGS))}")
        data[key] = _knob_value(v)
    if data:
        k.merge_patch(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP), {"data": data})
        time.sleep(0.15)  # the simulator's watch delivers it in a few milliseconds
    return old


def initial_settings(api: client.ApiClient | Kube) -> dict[str, Any]:
    """What the cluster was created with: its shape (topo.Shape.to_json) and the knobs' data."""
    cm = kube(api).get(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP))
    raw = (cm["metadata"].get("annotations") or {}).get(INITIAL_ANNOTATION)
    if raw:
        return json.loads(raw)
    data = cm.get("data") or {}
    return {**topo.Shape(topology=data.get("topology", "standard")).to_json(), "data": data}


def set_masters_schedulable(api: client.ApiClient | Kube, schedulable: bool) -> bool:
    """Sets the Scheduler `cluster`'s spec.mastersSchedulable (the node controller then reconciles
    every master); False if the Scheduler API is not served."""
    return topo.set_masters_schedulable(kube(api), schedulable)


# -- reading ----------------------------------------------------------------------------

def pool(api: client.ApiClient | Kube, name: str) -> dict:
    return kube(api).get(mcp_path(name))


def pool_machines(api: client.ApiClient | Kube, name: str) -> int | None:
    """The pool's machineCount; None until the MCO's pool controller first syncs a pool just created."""
    return pool(api, name).get("status", {}).get("machineCount")


def pools(api: client.ApiClient | Kube) -> list[dict]:
    return kube(api).get(mcp_path()).get("items") or []


def nodes(api: client.ApiClient | Kube, pool_name: str | None = None) -> list[dict]:
    """All nodes, or the nodes whose primary pool is `pool_name` (as the MCO decides it)."""
    k = kube(api)
    items = k.get(node_path()).get("items") or []
    if pool_name is None:
        return items
    all_pools = pools(k)
    p = next((x for x in all_pools if P.name(x) == pool_name), None)
    if p is None:
        return []
    return P.nodes_for_pool(p, items, all_pools)[0]


def reboots(api: client.ApiClient | Kube) -> dict[str, int]:
    """Reboots per node, from the simulator's counter annotation."""
    return {P.name(n): int(P.annotations(n).get(REBOOTS) or 0) for n in nodes(api)}


def condition(pool_obj: dict, ctype: str) -> dict | None:
    return P.condition(pool_obj.get("status") or {}, ctype)


def machine_count(pool_obj: dict) -> dict[str, int]:
    st = pool_obj.get("status") or {}
    keys = {"machine": "machineCount", "updated": "updatedMachineCount", "ready": "readyMachineCount",
            "unavailable": "unavailableMachineCount", "degraded": "degradedMachineCount"}
    return {k: st.get(v, 0) for k, v in keys.items()}


# -- faults -------------------------------------------------------------------------------

def _annotate(api: client.ApiClient | Kube, node: str, ann: dict[str, str | None]) -> None:
    kube(api).merge_patch(node_path(node), {"metadata": {"annotations": ann}})


def set_fault(api: client.ApiClient | Kube, node: str, reason: str = "simulated failure") -> None:
    """The node's daemon fails with `reason` (Degraded) until clear_fault; then it retries."""
    _annotate(api, node, {FAULT_FAIL: reason})


def clear_fault(api: client.ApiClient | Kube, node: str) -> None:
    _annotate(api, node, {FAULT_FAIL: None})


def crio_fails(api: client.ApiClient | Kube, node: str, error: str = "simulated CRI-O failure") -> None:
    """After its next reboot CRI-O exits with `error` on the node: it stays NotReady, unreported."""
    _annotate(api, node, {FAULT_CRIO: error})


def crio_recovers(api: client.ApiClient | Kube, node: str) -> None:
    """Removes the crio-fails fault; a node stuck on it finishes booting (systemd restarts CRI-O)."""
    _annotate(api, node, {FAULT_CRIO: None})


def hang(api: client.ApiClient | Kube, node: str, phase: str = "apply") -> None:
    """The node's update stops in `phase`: "drain" (never drained), "apply" (Working, drained),
    "reboot" (NotReady) until unhang."""
    _annotate(api, node, {FAULT_HANG: phase})


def unhang(api: client.ApiClient | Kube, node: str) -> None:
    _annotate(api, node, {FAULT_HANG: None})


def runs_native(api: client.ApiClient | Kube, node: str, handlers: str = "kata") -> None:
    """Pods of these handlers (comma separated) that start from now on run on the node's kernel although CRI-O
    has the handler as a VM runtime: a "kata" that is not Kata. Their `uname -r` and boot ID are the node's."""
    _annotate(api, node, {FAULT_NATIVE: handlers})


def runs_in_vm(api: client.ApiClient | Kube, node: str) -> None:
    """Removes the runs-native fault."""
    _annotate(api, node, {FAULT_NATIVE: None})


# -- MachineConfigs ----------------------------------------------------------------------

def kata_dropin(handler: str = "kata") -> str:
    """The CRI-O drop-in that configures the kata runtime handler (operator.md 1.5)."""
    return (f"[crio.runtime.runtimes.{handler}]\n"
            'runtime_path = "/usr/bin/containerd-shim-kata-v2"\n'
            'runtime_type = "vm"\n'
            'runtime_root = "/run/vc"\n'
            "privileged_without_host_devices = true\n")


def machine_config(name: str, role: str, *, files: dict[str, str] | None = None, units: list[dict] | None = None,
                   extensions: list[str] | None = None, kernel_arguments: list[str] | None = None,
                   kernel_type: str | None = None, ignition_version: str | None = "3.2.0",
                   mode: int = 0o644, labels: dict[str, str] | None = None) -> dict:
    """A MachineConfig for `role`; files are {path: text}; ignition_version=None leaves spec.config out."""
    spec: dict[str, Any] = {}
    if ignition_version is not None:
        cfg: dict[str, Any] = {"ignition": {"version": ignition_version}}
        if files:
            cfg["storage"] = {"files": [{"path": p, "mode": mode, "overwrite": True,
                                         "contents": {"source": topo.data_url(t)}} for p, t in files.items()]}
        if units:
            cfg["systemd"] = {"units": units}
        spec["config"] = cfg
    if extensions is not None:
        spec["extensions"] = list(extensions)
    if kernel_arguments is not None:
        spec["kernelArguments"] = list(kernel_arguments)
    if kernel_type is not None:
        spec["kernelType"] = kernel_type
    return {"apiVersion": MCO_API, "kind": "MachineConfig",
            "metadata": {"name": name, "labels": {ROLE_LABEL: role, **(labels or {})}}, "spec": spec}


def create_mc(api: client.ApiClient | Kube, mc: dict) -> dict:
    return kube(api).create(mc_path(), mc)


def delete_mc(api: client.ApiClient | Kube, name: str) -> None:
    with contextlib.suppress(ApiError):
        kube(api).delete(mc_path(name))


def custom_pool(name: str, *, max_unavailable: int | str | None = None, paused: bool | None = None) -> dict:
    """A custom pool as the docs (and the sandboxed containers operator) make it."""
    spec: dict[str, Any] = {
        "machineConfigSelector": {"matchExpressions": [
            {"key": ROLE_LABEL, "operator": "In", "values": ["worker", name]}]},
        "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}},
    }
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    if paused is not None:
        spec["paused"] = paused
    return {"apiVersion": MCO_API, "kind": "MachineConfigPool",
            "metadata": {"name": name, "labels": {f"pools.operator.machineconfiguration.openshift.io/{name}": ""}},
            "spec": spec}


def patch_pool_spec(api: client.ApiClient | Kube, name: str, spec: dict) -> dict:
    return kube(api).merge_patch(mcp_path(name), {"spec": spec})


def label_node(api: client.ApiClient | Kube, node: str, labels: dict[str, str | None]) -> dict:
    return kube(api).merge_patch(node_path(node), {"metadata": {"labels": labels}})


# -- waiting -----------------------------------------------------------------------------

def _degraded_details(k: Kube, p: dict) -> str:
    st = p.get("status") or {}
    parts = []
    for ctype in (RENDER_DEGRADED, NODE_DEGRADED, DEGRADED):
        c = P.condition(st, ctype)
        if c is not None and c.get("status") == "True":
            parts.append(f"{ctype}: {c.get('reason') or ''} {c.get('message') or ''}".strip())
    for n in nodes(k, P.name(p)):
        a = P.annotations(n)
        if a.get(STATE) in ("Degraded", "Unreconcilable"):
            parts.append(f"node {P.name(n)} {a.get(STATE)}: {a.get(REASON, '')}")
    return "; ".join(parts)


def is_degraded(p: dict) -> bool:
    st = p.get("status") or {}
    return any(P.is_condition_true(st, c) for c in (DEGRADED, NODE_DEGRADED, RENDER_DEGRADED))


def converged_problem(k: Kube, p: dict, *, contains: Iterable[str] = (), excludes: Iterable[str] = (),
                      min_generation: int | None = None) -> str | None:
    """Why the pool has not converged yet (None: it has), by the collection's definition (DESIGN.md)."""
    st = p.get("status") or {}
    spec_cfg = (p.get("spec") or {}).get("configuration") or {}
    sources = {s.get("name") for s in spec_cfg.get("source") or []}
    missing = [c for c in contains if c not in sources]
    if missing:
        return f"spec.configuration.source lacks {missing}"
    present = [c for c in excludes if c in sources]
    if present:
        return f"spec.configuration.source still lists {present}"
    gen = p["metadata"].get("generation", 0)
    if min_generation is not None and gen < min_generation:
        return f"generation {gen} < {min_generation}"
    if st.get("observedGeneration") != gen:
        return f"observedGeneration {st.get('observedGeneration')} != generation {gen}"
    if (st.get("configuration") or {}).get("name") != spec_cfg.get("name"):
        return f"status.configuration {(st.get('configuration') or {}).get('name')} != {spec_cfg.get('name')}"
    if not P.is_condition_true(st, UPDATED) or P.is_condition_true(st, UPDATING) or P.is_condition_true(st, DEGRADED):
        return "conditions are not Updated=True, Updating=False, Degraded=False"
    mc = st.get("machineCount", 0)
    if not (st.get("updatedMachineCount") == st.get("readyMachineCount") == mc) or st.get("degradedMachineCount"):
        return f"counts {machine_count(p)}"
    for n in nodes(k, P.name(p)):
        a = P.annotations(n)
        if not (a.get(CURRENT_CONFIG) == a.get(DESIRED_CONFIG) == spec_cfg.get("name") and a.get(STATE) == STATE_DONE):
            return f"node {P.name(n)} is at {a.get(CURRENT_CONFIG)} ({a.get(STATE)})"
    return None


def wait_pool_converged(api: client.ApiClient | Kube, name: str, *, contains: Iterable[str] = (),
                        excludes: Iterable[str] = (), min_generation: int | None = None, timeout: float = 120.0,
                        allow_degraded: bool = False, interval: float = 0.05) -> dict:
    """Waits until pool `name` has really finished rolling out, and returns it.

    Not fooled by the stale Updated=True after a MachineConfig change when told
    what to expect: `contains` (MachineConfigs that must be in
    spec.configuration.source), `excludes` (must not be), or `min_generation`
    (the pool's generation before the change + 1). Raises PoolDegraded at once
    on Degraded, NodeDegraded or RenderDegraded (unless allow_degraded).
    """
    k = kube(api)
    contains, excludes = list(contains), list(excludes)
    deadline = time.monotonic() + timeout
    why = ""
    while True:
        p = k.get(mcp_path(name))
        if not allow_degraded and is_degraded(p):
            raise PoolDegraded(f"pool {name} is degraded: {_degraded_details(k, p)}")
        why = converged_problem(k, p, contains=contains, excludes=excludes, min_generation=min_generation) or ""
        if not why:
            return p
        if time.monotonic() > deadline:
            raise TimeoutError(f"pool {name} did not converge in {timeout:.0f}s: {why}")
        time.sleep(interval)


def wait_condition(api: client.ApiClient | Kube, name: str, ctype: str, status: str = "True",
                   timeout: float = 60.0) -> dict:
    """Waits until the pool's condition `ctype` has `status`; returns the condition."""
    k = kube(api)
    return wait_for(lambda: (c := condition(k.get(mcp_path(name)), ctype)) is not None and c.get("status") == status
                    and c, timeout, what=f"{name} {ctype}={status}")


def wait_settled(api: client.ApiClient | Kube, timeout: float = 90.0) -> None:
    topo.wait_settled(kube(api), timeout)


# -- sampling ----------------------------------------------------------------------------

@dataclass
class Sample:
    t: float
    unavailable: int  # nodes of the pool unavailable by the MCO's definition
    updating: int  # nodes whose desiredConfig differs from currentConfig
    cordoned: int  # nodes with spec.unschedulable
    reported: int | None = None  # the pool's status.unavailableMachineCount at that time


@dataclass
class PoolSampler:
    """Watches a pool's nodes and records, after every change, how many are unavailable."""

    k: Kube
    pool: str
    members: set[str] = field(default_factory=set)
    samples: list[Sample] = field(default_factory=list)
    reported: list[tuple[float, int]] = field(default_factory=list)
    _informers: list[Informer] = field(default_factory=list)
    _nodes: dict[str, dict] = field(default_factory=dict)
    _last_reported: int | None = None
    _listed: bool = False  # samples start from the whole list, not from its first nodes

    def start(self) -> PoolSampler:
        """Returns once the nodes are listed, with a first sample."""
        self.members = {P.name(n) for n in nodes(self.k, self.pool)}
        for path, handler in ((node_path(), self._on_node), (mcp_path(), self._on_pool)):
            inf = Informer(self.k, path, handler, name=f"sampler-{path}")
            inf.start()
            self._informers.append(inf)
        if not self._informers[0].synced.wait(30):
            raise TimeoutError("the node list did not come in 30 s")
        self._listed = True
        self._record()
        return self

    def _on_node(self, old: dict | None, new: dict | None) -> None:
        if new is None:
            self._nodes.pop(P.name(old), None)
        else:
            self._nodes[P.name(new)] = new
        if self._listed:
            self._record()

    def _on_pool(self, _old: dict | None, new: dict | None) -> None:
        if new is not None and P.name(new) == self.pool:
            v = (new.get("status") or {}).get("unavailableMachineCount")
            if v is not None:
                self._last_reported = v
                self.reported.append((time.monotonic(), v))

    def _record(self) -> None:
        ns = [n for name, n in self._nodes.items() if name in self.members]
        self.samples.append(Sample(
            t=time.monotonic(),
            unavailable=sum(1 for n in ns if P.is_unavailable(n)),
            updating=sum(1 for n in ns if P.annotations(n).get(CURRENT_CONFIG) != P.annotations(n).get(DESIRED_CONFIG)),
            cordoned=sum(1 for n in ns if (n.get("spec") or {}).get("unschedulable")),
            reported=self._last_reported,
        ))

    def stop(self) -> None:
        for inf in self._informers:
            inf.stop()

    def __enter__(self) -> PoolSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def max_unavailable(self) -> int:
        return max((s.unavailable for s in self.samples), default=0)

    @property
    def max_updating(self) -> int:
        return max((s.updating for s in self.samples), default=0)

    @property
    def max_reported(self) -> int:
        return max((entry[1] for entry in self.reported), default=0)


def pool_samples(api: client.ApiClient | Kube, pool_name: str) -> PoolSampler:
    """A sampler of the pool's availability; use as a context manager around a rollout."""
    return PoolSampler(kube(api), pool_name)


# -- nodes -------------------------------------------------------------------------------

def _free_index(k: Kube) -> int:
    used = {(n.get("spec") or {}).get("podCIDR") for n in k.get(node_path()).get("items") or []}
    i = 0
    while f"10.128.{(i * 2) % 256}.0/23" in used:
        i += 1
    return i


def add_node(api: client.ApiClient | Kube, name: str, role: str = "worker", *, zone: str | None = None,
             virt: bool = True, labels: dict[str, str] | None = None, wait: bool = True,
             timeout: float = 30.0, arch: str = "amd64", nfd: bool = True, os: str | None = None) -> dict:
    """A node joining the cluster; the simulator boots it with its pool's current config.

    `role` is worker, master, infra (worker + infra) or master+worker; the node
    runs the cluster's release and (unless `os` says otherwise) its OS.
    """
    k = kube(api)
    roles = {"master+worker": ("master", "worker"), "infra": ("worker", "infra")}.get(role, (role,))
    init = initial_settings(k)
    rel = knobs(k).release
    body = topo.build_node(name, roles, _free_index(k), virt=virt, zone=zone, labels=labels, arch=arch, nfd=nfd,
                           os_name=os or init.get("os", "rhcos"), release=rel)
    k.create(node_path(), body)
    if not wait:
        return k.get(node_path(name))
    return wait_for(lambda: (n := k.get(node_path(name))) and P.annotations(n).get(STATE) == STATE_DONE and n,
                    timeout, what=f"node {name} seeded")


def remove_node(api: client.ApiClient | Kube, name: str) -> None:
    with contextlib.suppress(ApiError):
        kube(api).delete(node_path(name))


# -- reset -------------------------------------------------------------------------------

def _restore_mcs(k: Kube, base: list[dict]) -> None:
    """Deletes every MachineConfig that is neither in `base` nor rendered; restores the base ones."""
    existing = {mc["metadata"]["name"]: mc for mc in k.get(mc_path()).get("items") or []}
    base_names = {mc["metadata"]["name"] for mc in base}
    for name in existing:
        if name not in base_names and not name.startswith(RENDERED_PREFIX):
            with contextlib.suppress(ApiError):
                k.delete(mc_path(name))
    for mc in base:
        cur = existing.get(mc["metadata"]["name"])
        if cur is None:
            k.create(mc_path(), mc)
        elif cur.get("spec") != mc["spec"] or (cur["metadata"].get("labels") or {}) != mc["metadata"]["labels"]:
            # only tests write MachineConfigs: no one races this update
            body = {**mc, "metadata": {**mc["metadata"], "resourceVersion": cur["metadata"]["resourceVersion"]}}
            k.request("PUT", mc_path(mc["metadata"]["name"]), body=body)


def _on_conflict_retry(fn: Callable[[], None], attempts: int = 20) -> None:
    for i in range(attempts):
        try:
            fn()
            return
        except ApiError as e:
            if not e.conflict or i == attempts - 1:
                raise
            time.sleep(0.05)


def _wanted_pools(shape: topo.Shape) -> dict[str, dict]:
    """Pool name -> its spec (without configuration) in a fresh cluster of that shape."""
    out = {name: {"machineConfigSelector": mcs, "nodeSelector": ns} for name, (mcs, ns) in SHIPPED_SELECTORS.items()}
    if shape.infra:
        out[topo.INFRA_POOL] = topo.infra_pool()["spec"]
    return out


def _restore_pool(k: Kube, name: str, want: dict) -> None:
    p = k.get(mcp_path(name))
    if {key: v for key, v in p["spec"].items() if key != "configuration"} == want:
        return
    spec = dict(want)
    if p["spec"].get("configuration"):
        spec["configuration"] = p["spec"]["configuration"]
    body = {**p, "spec": spec}
    body.pop("status", None)
    k.request("PUT", mcp_path(name), body=body)


def _restore_pools(k: Kube, wanted: dict[str, dict]) -> None:
    existing = set()
    for p in k.get(mcp_path()).get("items") or []:
        name = P.name(p)
        if name not in wanted:
            with contextlib.suppress(ApiError):
                k.delete(mcp_path(name))
            continue
        existing.add(name)
        _on_conflict_retry(lambda name=name: _restore_pool(k, name, wanted[name]))
    wait_for(lambda: {P.name(p) for p in k.get(mcp_path()).get("items") or []} <= set(wanted),
             30, what="custom pools deleted")
    for name in set(wanted) - existing:
        k.create(mcp_path(), topo.infra_pool() if name == topo.INFRA_POOL else {
            "apiVersion": MCO_API, "kind": "MachineConfigPool", "metadata": {"name": name}, "spec": wanted[name]})


def _expected_render(k: Kube, name: str, knob: Knobs, mcs: list[dict]) -> str:
    p = k.get(mcp_path(name))
    return render.generate(p, render.select_configs(p, mcs), knob).name


def _knob_patch(data: dict[str, str], current: dict[str, str]) -> dict[str, str | None]:
    """A merge patch that makes the simulator's knobs exactly `data` (the others back to their defaults)."""
    return {**{key: None for key in current if key in KEYS and key not in data}, **data}


def reset(api: client.ApiClient | Kube, *, topology: str | None = None, workers: int | None = None,
          not_virt: Iterable[str] | None = None, masters_schedulable: bool | None = None, infra: int | None = None,
          arch: dict[str, str] | str | None = None, no_nfd: Iterable[str] | None = None,
          machine_configs: Iterable[str] | None = None, os: str | None = None, timeout: float = 120.0,
          manifests: Iterable[dict] | None = None, **knob_values: Any) -> None:
    """Brings the cluster back to a freshly installed state, quickly.

    Deletes every node, the MachineConfigs that are neither base nor preset
    ones and the custom pools; restores the base MachineConfigs, the presets
    and the pools' spec (with the infra pool when there are infra nodes) and
    the Scheduler's mastersSchedulable; recreates the nodes of the shape, which
    boot straight into the base config (no rollout, every reboot counter at 0);
    sets the knobs to their initial values overridden by `knob_values` (e.g.
    render_delay=1, node_update=0.5); waits until everything is settled. Shape
    arguments default to what the cluster was created with, except that another
    topology takes its own default worker count and masters_schedulable False.
    Pods, namespaces and RuntimeClasses of tests are left alone. The OpenShift
    version cannot change here (the API server's flags fix it).

    `manifests` are day-0 objects (any kind the API serves), created in order
    after the MachineConfigs and pools are restored and before the nodes, as
    the installer's cluster-bootstrap does (sim/manifests.py; one that exists
    is left as it is): the pools render with their MachineConfigs and pools
    first, so the nodes boot straight into them. A later reset removes the
    MachineConfigs and pools among them, not the other kinds.
    """
    if "openshift_version" in knob_values:
        raise TypeError("reset cannot change the OpenShift version (the API server's flags fix it); "
                        "use configure(openshift_version=...) for the simulator's behaviour only")
    k = kube(api)
    init = initial_settings(k)
    first = topo.Shape.from_json(init)
    shape_topology = topology or first.topology
    same = shape_topology == first.topology
    shape = topo.Shape.make(
        topology=shape_topology,
        workers=workers if workers is not None else (first.workers if same else None),
        masters_schedulable=(first.masters_schedulable if same else False) if masters_schedulable is None
        else masters_schedulable,
        infra=first.infra if infra is None else infra,
        arch=dict(first.arch) if arch is None else arch,
        not_virt=first.not_virt if not_virt is None else tuple(not_virt),
        no_nfd=first.no_nfd if no_nfd is None else tuple(no_nfd),
        machine_configs=first.machine_configs if machine_configs is None else tuple(machine_configs),
        os=os or first.os,
    )
    final = Knobs.from_data({**init.get("data", {}), "topology": shape.topology})
    final = Knobs.from_data({**final.to_data(), **{_KNOB_ARGS[a]: _knob_value(v)
                                                   for a, v in knob_values.items() if v is not None}})
    rel = final.release
    base = [mc for role in ("master", "worker") for mc in topo.base_machine_configs(role, rel)]
    base += topo.preset_machine_configs(shape.machine_configs, rel)
    cm = k.get(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP))
    # Fast renders while resetting; the final knobs at the end.
    k.merge_patch(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP), {"data": _knob_patch(
        {**final.to_data(), "renderDelaySeconds": "0", "nodeUpdateSeconds": "0.2"}, cm.get("data") or {})})
    time.sleep(0.15)
    for n in k.get(node_path()).get("items") or []:
        with contextlib.suppress(ApiError):
            k.delete(node_path(P.name(n)))
    wait_for(lambda: not k.get(node_path()).get("items"), 30, what="nodes deleted")
    _restore_mcs(k, base)
    wanted = _wanted_pools(shape)
    _restore_pools(k, wanted)
    day0 = M.create_all(k, manifests or ())
    rendered = list(wanted) + [o["metadata"]["name"] for o in day0
                               if o.get("apiVersion") == MCO_API and o.get("kind") == "MachineConfigPool"
                               and o["metadata"]["name"] not in wanted]
    mcs = base + [o for o in day0 if o.get("apiVersion") == MCO_API and o.get("kind") == "MachineConfig"
                  and o["metadata"]["name"] not in {mc["metadata"]["name"] for mc in base}]
    topo.set_masters_schedulable(k, shape.schedulable)
    for name in rendered:
        expected = _expected_render(k, name, final, mcs)

        def done(name: str = name, expected: str = expected) -> bool:
            p = k.get(mcp_path(name))
            st = p.get("status") or {}
            return (P.target(p) == expected and (st.get("configuration") or {}).get("name") == expected
                    and st.get("observedGeneration") == p["metadata"].get("generation"))

        wait_for(done, timeout, what=f"pool {name} re-rendered to {expected}")
    topo.create_nodes(k, shape, rel)
    topo.wait_settled(k, timeout)
    cm = k.get(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP))
    k.merge_patch(cm_path(KNOBS_NAMESPACE, KNOBS_CONFIGMAP), {"data": _knob_patch(final.to_data(),
                                                                                  cm.get("data") or {})})
    _delete_unused_rendered(k)
    time.sleep(0.15)


def _delete_unused_rendered(k: Kube) -> None:
    used = set()
    for p in k.get(mcp_path()).get("items") or []:
        used.add(P.target(p))
        used.add(((p.get("status") or {}).get("configuration") or {}).get("name"))
    for n in k.get(node_path()).get("items") or []:
        a = P.annotations(n)
        used.update({a.get(CURRENT_CONFIG), a.get(DESIRED_CONFIG)})
    for mc in k.get(mc_path()).get("items") or []:
        name = mc["metadata"]["name"]
        if name.startswith(RENDERED_PREFIX) and name not in used:
            with contextlib.suppress(ApiError):
                k.delete(mc_path(name))
