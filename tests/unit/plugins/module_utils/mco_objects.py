"""Builders of MCO-shaped objects for the pure-logic tests (a module, not a conftest: conftest modules collide)."""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    MCD_REASON,
    MCD_STATE,
    ROLE_LABEL,
    node_role_label,
)

DROPIN = """[crio.runtime.runtimes.kata]
runtime_path = "/usr/bin/containerd-shim-kata-v2"
runtime_type = "vm"
runtime_root = "/run/vc"
privileged_without_host_devices = true
"""


def node(name: str, *roles: str, state: str = "Done", current: str = "rendered-worker-1",
         desired: str | None = None, reason: str = "", **labels: str) -> dict:
    lab = {"kubernetes.io/hostname": name, **{node_role_label(r): "" for r in roles}, **labels}
    ann = {CURRENT_CONFIG: current, DESIRED_CONFIG: desired or current, MCD_STATE: state}
    if reason:
        ann[MCD_REASON] = reason
    return {"metadata": {"name": name, "labels": lab, "annotations": ann}}


def pool(name: str, *, role_selector: dict | None = None, node_selector: dict | None = None,
         target: str | None = None, sources: tuple[str, ...] = (), generation: int = 2,
         observed: int | None = None, status_config: str | None = None, counts: tuple = (0, 0, 0, 0),
         conds: dict | None = None, paused: bool = False) -> dict:
    spec = {
        "machineConfigSelector": role_selector or {"matchLabels": {ROLE_LABEL: name}},
        "nodeSelector": node_selector or {"matchLabels": {node_role_label(name): ""}},
        "paused": paused,
    }
    if target:
        spec["configuration"] = {"name": target, "source": [{"name": s} for s in sources]}
    machine, updated, ready, degraded = counts
    status = {
        "observedGeneration": generation if observed is None else observed,
        "configuration": {"name": status_config if status_config is not None else target},
        "machineCount": machine, "updatedMachineCount": updated, "readyMachineCount": ready,
        "degradedMachineCount": degraded, "unavailableMachineCount": 0,
        "conditions": [{"type": k, "status": v[0] if isinstance(v, tuple) else v,
                        "reason": v[1] if isinstance(v, tuple) else "",
                        "message": v[2] if isinstance(v, tuple) else ""}
                       for k, v in (conds or {"Updated": "True", "Updating": "False", "Degraded": "False",
                                              "NodeDegraded": "False", "RenderDegraded": "False"}).items()],
    }
    return {"metadata": {"name": name, "generation": generation}, "spec": spec, "status": status}
