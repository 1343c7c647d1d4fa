# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A MachineConfigPool read as the MCO reads it: its conditions, whether it is paused, its maxUnavailable.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import math
import re

from ansible_collections.sandboxed.containers.plugins.module_utils._names import CURRENT_CONFIG, PAUSED_BY_ANNOTATION

_PERCENT = re.compile(r"^\d{1,3}%$")


class MaxUnavailableError(ValueError):
    """A maxUnavailable that is neither a number of nodes nor a percentage."""


def conditions(pool: dict) -> dict[str, dict]:
    """type -> condition of the pool's status."""
    return {c.get("type"): c for c in ((pool.get("status") or {}).get("conditions") or [])}


def is_paused(pool: dict) -> bool:
    return bool((pool.get("spec") or {}).get("paused"))


def paused_by_collection(pool: dict) -> bool:
    """Paused, and by the collection (its mark): a later run resumes it. A mark on a running pool is stale."""
    annotations = (pool.get("metadata") or {}).get("annotations") or {}
    return is_paused(pool) and PAUSED_BY_ANNOTATION in annotations


def pause_patch(paused: bool, operation: str = "install") -> dict:
    """The merge patch that pauses a pool with the collection's mark, or resumes it and takes the mark off."""
    return {"metadata": {"annotations": {PAUSED_BY_ANNOTATION: operation if paused else None}},
            "spec": {"paused": paused}}


def rolling_out(pool: dict) -> str | None:
    """The rollout under way in the pool, in words, or None: it targets a rendered config its nodes are not all on
    yet (spec.configuration differs from status.configuration), or it says Updating=True."""
    target = ((pool.get("spec") or {}).get("configuration") or {}).get("name")
    current = ((pool.get("status") or {}).get("configuration") or {}).get("name")
    updating = conditions(pool).get("Updating") or {}
    if updating.get("status") != "True" and (not target or not current or target == current):
        return None
    state = (f"Updating: {updating.get('message') or 'True'}" if updating.get("status") == "True"
             else f"its nodes are still on {current}")
    return f"rolling out {target} ({state})"


def waiting_nodes(pool: dict, nodes: list[dict]) -> list[str]:
    """Of the pool's `nodes`, those not on the rendered config it targets: they update once it resumes."""
    target = ((pool.get("spec") or {}).get("configuration") or {}).get("name")
    return sorted(n["metadata"]["name"] for n in nodes
                  if target and ((n["metadata"].get("annotations") or {}).get(CURRENT_CONFIG)) != target)


def paused_message(name: str, why: str = "") -> str:
    """Why a paused pool stops the run, and how to unpause it; `why` says what the run needs the pool for."""
    role = f" ({why})" if why else ""
    return (f"pool {name}{role} is paused, so the MCO does not roll out to its nodes; unpause it "
            f"(oc patch mcp/{name} --type merge -p '{{\"spec\":{{\"paused\":false}}}}') or wait for whoever "
            "paused it")


def parse_max_unavailable(value: object) -> int | str | None:
    """A maxUnavailable setting as the pool's spec takes it: a number of nodes (1 or more; digits as text become a
    number) or a percentage from 1% to 100%; None when unset. Raises MaxUnavailableError."""
    if value is None or value == "":
        return None
    mu = int(value) if isinstance(value, str) and value.isdigit() else value
    count_ok = isinstance(mu, int) and not isinstance(mu, bool) and mu >= 1
    percent_ok = isinstance(mu, str) and bool(_PERCENT.match(mu)) and 0 < int(mu[:-1]) <= 100
    if not (count_ok or percent_ok):
        raise MaxUnavailableError(f"{value!r} must be a number of nodes (1 or more) or a percentage such as 25%")
    return mu


def max_unavailable_nodes(value: object, nodes: int) -> int:
    """How many of a pool's `nodes` the MCO updates at once for its spec.maxUnavailable `value` (unset: 1; a
    percentage rounds down; at least 1), as the node controller's maxUnavailable does (GetScaledValueFromIntOrPercent
    without rounding up)."""
    mu = value or 1
    if isinstance(mu, str) and mu.endswith("%"):
        mu = math.floor(nodes * int(mu[:-1]) / 100)
    return max(1, int(mu))
