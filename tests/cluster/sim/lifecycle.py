"""The node lifecycle controller's taints, which the simulator keeps in its place. Pure.

kube-apiserver's TaintNodesByCondition admission puts node.kubernetes.io/not-ready
on every new node; the node lifecycle controller (not run by the local
cluster: it would evict simulated nodes) removes it once the node is Ready,
and puts node.kubernetes.io/not-ready or .../unreachable back while it is
not (NoSchedule only: nothing evicts on NoExecute here).
"""

from __future__ import annotations

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


def ready_status(node: dict) -> str | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status")
    return None


def wanted_taints(node: dict) -> list[dict] | None:
    """The node's taints as the lifecycle controller wants them, or None if they are right."""
    taints = list((node.get("spec") or {}).get("taints") or [])
    keep = [t for t in taints if not (t.get("key") in (NOT_READY, UNREACHABLE) and t.get("effect") == "NoSchedule")]
    status = ready_status(node)
    if status == "False":
        keep.append({"key": NOT_READY, "effect": "NoSchedule"})
    elif status == "Unknown":
        keep.append({"key": UNREACHABLE, "effect": "NoSchedule"})

    def norm(ts: list[dict]) -> list[tuple]:
        return sorted((t.get("key", ""), t.get("effect", ""), t.get("value") or "") for t in ts)

    return None if norm(keep) == norm(taints) else keep
