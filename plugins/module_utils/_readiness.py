# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""When a node is ready for sandboxed pods, node by node, so that they start on the first finished node.

A node is ready when it is Ready, the machine-config daemon is Done on the config it was told to run, that
rendered config carries the collection's MachineConfig, and, where the API server has the field
(`node.status.runtimeHandlers`: the field is in the API from Kubernetes 1.30, and the kubelet fills it from 1.31,
OpenShift 4.18, where RecursiveReadOnlyMounts is on by default), the kubelet reports the
handler, which it learns from CRI-O's RuntimeStatus once CRI-O has loaded the drop-in.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from collections.abc import Callable

from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    MCD_STATE,
)


def reports_handlers(node: dict) -> bool:
    """Whether the kubelet reports runtimeHandlers in the node's status (Kubernetes 1.31 and later)."""
    return "runtimeHandlers" in (node.get("status") or {})


def reported_handlers(node: dict) -> list[str]:
    return [h.get("name", "") for h in (node.get("status") or {}).get("runtimeHandlers") or []]


def not_ready_because(node: dict, handler: str, carries: Callable[[str], bool | None]) -> str | None:
    """Why the node is not ready for sandboxed pods yet, or None when it is. `carries(config)` says whether a
    rendered config carries the collection's MachineConfig (None: not known yet)."""
    ann = (node.get("metadata") or {}).get("annotations") or {}
    conds = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    current, desired = ann.get(CURRENT_CONFIG), ann.get(DESIRED_CONFIG)
    if conds.get("Ready") != "True":
        return "not Ready"
    if ann.get(MCD_STATE) != "Done" or not current or current != desired:
        return f"updating ({ann.get(MCD_STATE) or 'no state'})"
    if not carries(current):
        return f"runs {current}, which lacks the MachineConfig"
    if reports_handlers(node) and handler not in reported_handlers(node):
        return f"the kubelet does not report the {handler} handler"
    return None
