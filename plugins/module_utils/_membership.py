# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Which pool a node belongs to, decided exactly as the Machine Config Operator decides it.

The MCO (pkg/helpers GetPoolsForNode) matches every pool's nodeSelector against
the node's labels, then: more than one custom pool is an error and the node is
in no pool; master wins over a custom pool; a custom pool wins over worker.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sandboxed.containers.plugins.module_utils._selector import is_empty, matches


@dataclass(frozen=True)
class Membership:
    pool: str | None  # the primary pool, None if the node is in no pool
    error: str | None = None


def primary_pool(node_name: str, labels: dict | None, pools: list[dict]) -> Membership:
    """The node's primary pool among `pools` (MachineConfigPool objects or {name, nodeSelector} dicts)."""
    labels = labels or {}
    if labels.get("kubernetes.io/os") == "windows":
        return Membership(None)
    matched = matching_pools(labels, pools)
    custom = custom_pools_of(matched)
    if len(custom) > 1:
        return Membership(
            None, f"node {node_name} belongs to {len(custom)} custom roles, cannot proceed with this Node"
        )
    if "master" in matched:
        return Membership("master")
    if custom:
        return Membership(custom[0])
    if "worker" in matched:
        return Membership("worker")
    return Membership(None)


def matching_pools(labels: dict | None, pools: list[dict]) -> list[str]:
    """The pools whose nodeSelector matches the labels, in the order given (an empty selector selects nothing)."""
    matched = []
    for p in pools:
        sel = (p.get("spec") or p).get("nodeSelector")
        if not is_empty(sel) and matches(sel, labels or {}):
            matched.append((p.get("metadata") or p)["name"])
    return matched


def custom_pools_of(names: list[str]) -> list[str]:
    return sorted(n for n in names if n not in ("master", "worker"))


def pool_members(pool: str, nodes: list[dict], pools: list[dict]) -> list[dict]:
    """The nodes whose primary pool is `pool`, sorted by name."""
    out = [
        n for n in nodes
        if primary_pool(n["metadata"]["name"], n["metadata"].get("labels"), pools).pool == pool
    ]
    return sorted(out, key=lambda n: n["metadata"]["name"])
