# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Per-node and cluster status of the installation, the way the operator's KataConfig reports kataNodes.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._membership import primary_pool
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    HANDLER_LABEL,
    MCD_REASON,
    MCD_STATE,
    VERSION_ANNOTATION,
)

STATES = ("installed", "installing", "waiting", "failed", "not installed")


def sources(pool: dict) -> list[str]:
    return [s.get("name") for s in ((pool.get("spec") or {}).get("configuration") or {}).get("source") or []]


def node_states(nodes: list[dict], pools: list[dict], machine_config: str) -> list[dict]:
    """installed / installing / waiting / failed / not installed for every node."""
    by_name = {p["metadata"]["name"]: p for p in pools}
    out = []
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = n["metadata"]["name"]
        ann = n["metadata"].get("annotations") or {}
        member = primary_pool(name, n["metadata"].get("labels"), pools)
        pool = by_name.get(member.pool) if member.pool else None
        target = ((pool or {}).get("spec") or {}).get("configuration", {}).get("name") if pool else None
        mcd = ann.get(MCD_STATE)
        entry = {
            "name": name, "pool": member.pool, "mcd_state": mcd,
            "current_config": ann.get(CURRENT_CONFIG), "desired_config": ann.get(DESIRED_CONFIG),
            "target_config": target, "reason": ann.get(MCD_REASON) or member.error or "",
            # The RuntimeClass schedules onto this label; a node that has the handler without it gets no pod.
            "handler_label": (n["metadata"].get("labels") or {}).get(HANDLER_LABEL),
        }
        if pool is None or machine_config not in sources(pool):
            entry["state"] = "failed" if mcd in ("Degraded", "Unreconcilable") else "not installed"
        elif mcd in ("Degraded", "Unreconcilable"):
            entry["state"] = "failed"
        elif mcd == "Working":
            entry["state"] = "installing"
        elif mcd == "Done" and ann.get(CURRENT_CONFIG) == target:
            entry["state"] = "installed"
        else:
            entry["state"] = "waiting"
        out.append(entry)
    return out


def counts(states: list[dict]) -> dict[str, int]:
    return {s: sum(1 for e in states if e["state"] == s) for s in STATES}


def version_of(obj: dict | None) -> str | None:
    return ((obj or {}).get("metadata", {}).get("annotations") or {}).get(VERSION_ANNOTATION)


def pool_summary(pool: dict) -> dict:
    st = pool.get("status") or {}
    return {
        "name": pool["metadata"]["name"],
        "rendered_config": ((pool.get("spec") or {}).get("configuration") or {}).get("name"),
        "status_config": (st.get("configuration") or {}).get("name"),
        "machine_count": st.get("machineCount"),
        "updated_machine_count": st.get("updatedMachineCount"),
        "ready_machine_count": st.get("readyMachineCount"),
        "degraded_machine_count": st.get("degradedMachineCount"),
        "conditions": {c.get("type"): c.get("status") for c in st.get("conditions") or []},
        "paused": bool((pool.get("spec") or {}).get("paused")),
    }
