"""The node controller's logic: pool membership, who updates next, pool status. Pure.

pkg/helpers/helpers.go (GetPoolsForNode), pkg/controller/node/node_controller.go
(maxUnavailable, getAllCandidateMachines, updateCandidateMachines, sortNodeList),
pkg/controller/node/status.go (calculateStatus, annotation path as in
release-4.14) and layered_node_state.go (non-layered predicates); mco.md
sections 3 and 4.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import selectors
from .constants import (
    CURRENT_CONFIG,
    CURRENT_IMAGE,
    DEGRADED,
    DESIRED_CONFIG,
    DESIRED_IMAGE,
    NODE_DEGRADED,
    OS_LABEL,
    REASON,
    RENDER_DEGRADED,
    STATE,
    STATE_DEGRADED,
    STATE_DONE,
    STATE_UNRECONCILABLE,
    UPDATE_IN_PROGRESS_TAINT,
    UPDATED,
    UPDATING,
    ZONE_LABEL,
)

Node = dict[str, Any]
Pool = dict[str, Any]


class PoolMembershipError(Exception):
    pass


def name(obj: dict) -> str:
    return obj["metadata"]["name"]


def annotations(node: Node) -> dict[str, str]:
    return node["metadata"].get("annotations") or {}


def is_windows(node: Node) -> bool:
    return (node["metadata"].get("labels") or {}).get(OS_LABEL) == "windows"


def list_pools(node: Node, pools: Iterable[Pool]) -> tuple[Pool | None, Pool | None, list[Pool]]:
    """helpers.ListPools: the pools whose (non-empty) nodeSelector matches, by kind."""
    if is_windows(node):
        return None, None, []
    master = worker = None
    custom: list[Pool] = []
    labels = node["metadata"].get("labels") or {}
    for p in pools:
        if not selectors.mco_matches((p.get("spec") or {}).get("nodeSelector"), labels):
            continue
        if name(p) == "master":
            master = p
        elif name(p) == "worker":
            worker = p
        else:
            custom.append(p)
    return master, worker, sorted(custom, key=name)


def pools_for_node(node: Node, pools: Iterable[Pool]) -> list[Pool]:
    """GetPoolsForNode: primary pool first; [] when the node is in no pool.

    Raises PoolMembershipError when the node matches more than one custom pool.
    """
    master, worker, custom = list_pools(node, pools)
    if master is None and worker is None and not custom:
        return []
    if len(custom) > 1:
        raise PoolMembershipError(
            f"node {name(node)} belongs to {len(custom)} custom roles, cannot proceed with this Node")
    if len(custom) == 1:
        out = [master if master is not None else custom[0]]
        if worker is not None:
            out.append(worker)
        return out
    if master is not None:
        return [master]
    return [worker] if worker is not None else []


def primary_pool(node: Node, pools: Iterable[Pool]) -> Pool | None:
    got = pools_for_node(node, pools)
    return got[0] if got else None


def nodes_for_pool(pool: Pool, nodes: Iterable[Node], pools: list[Pool]) -> tuple[list[Node], list[str]]:
    """getNodesForPool: nodes matching the selector whose primary pool is this one.

    Returns (nodes, warnings); a node in two custom pools is left out with a warning.
    """
    sel = (pool.get("spec") or {}).get("nodeSelector")
    out, warnings = [], []
    for n in nodes:
        if not selectors.matches(sel, n["metadata"].get("labels") or {}) or selectors.is_empty(sel):
            continue
        try:
            p = primary_pool(n, pools)
        except PoolMembershipError as e:
            warnings.append(f'can\'t get pool for node "{name(n)}": {e}')
            continue
        if p is not None and name(p) == name(pool):
            out.append(n)
    return out, warnings


# -- node predicates (non-layered) ---------------------------------------------

def target(pool: Pool) -> str:
    return ((pool.get("spec") or {}).get("configuration") or {}).get("name") or ""


def is_node_done(node: Node) -> bool:
    a = annotations(node)
    cur, des = a.get(CURRENT_CONFIG, ""), a.get(DESIRED_CONFIG, "")
    if not cur or not des or cur != des:
        return False
    if a.get(CURRENT_IMAGE, "") != a.get(DESIRED_IMAGE, ""):
        return False
    return a.get(STATE) == STATE_DONE


def is_updated(node: Node, pool: Pool) -> bool:
    """IsDone(pool): done, at the pool's target, no desired image."""
    a = annotations(node)
    return is_node_done(node) and a.get(DESIRED_CONFIG) == target(pool) and DESIRED_IMAGE not in a


def _conditions(node: Node) -> list[dict]:
    return (node.get("status") or {}).get("conditions") or []


def node_ready_error(node: Node) -> str | None:
    """CheckNodeReady: a node with no conditions at all counts as ready."""
    n = name(node)
    for c in _conditions(node):
        if c.get("type") == "Ready" and c.get("status") != "True":
            return f"node {n} is reporting NotReady={c.get('status')}"
        if c.get("type") == "DiskPressure" and c.get("status") != "False":
            return f"node {n} is reporting OutOfDisk={c.get('status')}"
        if c.get("type") == "NetworkUnavailable" and c.get("status") != "False":
            return f"node {n} is reporting NetworkUnavailable={c.get('status')}"
    if (node.get("spec") or {}).get("unschedulable"):
        return f"node {n} is reporting Unschedulable"
    return None


def is_ready(node: Node) -> bool:
    return node_ready_error(node) is None


def is_mcd_failing(node: Node) -> bool:
    a = annotations(node)
    if a.get(CURRENT_CONFIG) == a.get(DESIRED_CONFIG):
        return False
    return a.get(STATE) in (STATE_DEGRADED, STATE_UNRECONCILABLE)


def is_degraded(node: Node) -> bool:
    return annotations(node).get(STATE) in (STATE_DEGRADED, STATE_UNRECONCILABLE)


def is_unavailable(node: Node) -> bool:
    """IsUnavailableForUpdate."""
    if not is_ready(node):
        return True
    if is_node_done(node):
        return False
    return not is_mcd_failing(node)


def is_candidate(node: Node, pool: Pool) -> bool:
    """CheckNodeCandidacyForUpdate (non-layered)."""
    a = annotations(node)
    if a.get(DESIRED_CONFIG, "") == target(pool):
        return DESIRED_IMAGE in a
    return True


def has_update_taint(node: Node) -> bool:
    return any(t.get("key") == UPDATE_IN_PROGRESS_TAINT["key"] and t.get("effect") == UPDATE_IN_PROGRESS_TAINT["effect"]
               for t in (node.get("spec") or {}).get("taints") or [])


def wants_update_taint(node: Node, pool: Pool) -> bool:
    """Every node not yet targeting the pool's config carries UpdateInProgress:PreferNoSchedule."""
    a = annotations(node)
    return not (a.get(DESIRED_CONFIG, "") == target(pool) and DESIRED_IMAGE not in a and CURRENT_IMAGE not in a)


# -- rollout -----------------------------------------------------------------------

def max_unavailable(pool: Pool, node_count: int) -> int:
    """maxUnavailable: int or percent (rounded down), default 1, 0 becomes 1.

    Raises ValueError with the MCO's message for a bad value.
    """
    if name(pool) == "arbiter":
        return 1
    v = (pool.get("spec") or {}).get("maxUnavailable")
    if v is None:
        v = 1
    if isinstance(v, bool):
        raise ValueError("maxUnavailable: invalid value for IntOrString: invalid type: neither int nor percentage")
    if isinstance(v, int):
        value = v
    else:
        s = str(v)
        if not s.endswith("%"):
            raise ValueError("maxUnavailable: invalid value for IntOrString: invalid type: string is not a percentage")
        num = s[:-1]
        if not re.fullmatch(r"[+-]?\d+", num):
            raise ValueError(f'maxUnavailable: invalid value for IntOrString: invalid value "{s}": '
                             f'strconv.Atoi: parsing "{num}": invalid syntax')
        value = math.floor(int(num) * node_count / 100)
    return 1 if value == 0 else value


def sort_nodes(nodes: list[Node]) -> list[Node]:
    """sortNodeList: by zone, oldest first within a zone; nodes without a zone last, oldest first.

    The MCO's sort is not stable; ties (same zone and second) are broken by name here.
    """
    def key(n: Node) -> tuple:
        zone = (n["metadata"].get("labels") or {}).get(ZONE_LABEL)
        ts = n["metadata"].get("creationTimestamp") or ""
        return (zone is None, zone or "", ts, name(n))
    return sorted(nodes, key=key)


def candidates(pool: Pool, nodes: list[Node], max_unavail: int) -> tuple[list[Node], int]:
    """getAllCandidateMachines: (candidates, capacity)."""
    unavail = sum(1 for n in nodes if is_unavailable(n))
    if unavail >= max_unavail:
        return [], 0
    capacity = max_unavail - unavail
    failing = 0
    out = []
    for n in nodes:
        if not is_candidate(n, pool):
            if is_mcd_failing(n):
                failing += 1
            continue
        if not is_ready(n):
            continue
        out.append(n)
    if failing >= capacity:
        return [], 0
    return out, capacity - failing


def choose_targets(pool: Pool, nodes: list[Node], max_unavail: int) -> list[Node]:
    """updateCandidateMachines: the nodes to point at the pool's config now."""
    cands, capacity = candidates(pool, nodes, max_unavail)
    if not cands:
        return []
    if capacity < len(cands):
        cands = sort_nodes(cands)[:capacity]
    return cands


# -- status --------------------------------------------------------------------------

def condition(status: dict, ctype: str) -> dict | None:
    found = None
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            found = c  # the last one, as GetMachineConfigPoolCondition does
    return found


def is_condition_true(status: dict, ctype: str) -> bool:
    c = condition(status, ctype)
    return c is not None and c.get("status") == "True"


def set_condition(status: dict, ctype: str, cstatus: str, reason: str, message: str, now: str) -> None:
    """SetMachineConfigPoolCondition: unchanged -> untouched; otherwise appended last."""
    cur = condition(status, ctype)
    if cur is not None and (cur.get("status"), cur.get("reason") or "", cur.get("message") or "") == (
            cstatus, reason, message):
        return
    ltt = cur.get("lastTransitionTime") if cur is not None and cur.get("status") == cstatus else now
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    conds.append({"type": ctype, "status": cstatus, "lastTransitionTime": ltt, "reason": reason,
                  "message": message})
    status["conditions"] = conds


@dataclass
class Counts:
    machine: int = 0
    updated: int = 0
    ready: int = 0
    unavailable: int = 0
    degraded: int = 0
    degraded_reasons: list[str] = field(default_factory=list)


def counts(pool: Pool, nodes: list[Node]) -> Counts:
    c = Counts(machine=len(nodes))
    for n in nodes:
        if is_updated(n, pool):
            c.updated += 1
            if is_ready(n):
                c.ready += 1
        if is_degraded(n):
            c.degraded += 1
            reason = annotations(n).get(REASON, "")
            if reason:
                c.degraded_reasons.append(f"Node {name(n)} is reporting: {go_quote(reason)}")
        if is_unavailable(n):
            c.unavailable += 1
    return c


def go_quote(s: str) -> str:
    """fmt's %q of a string (the common escapes)."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def calculate_status(pool: Pool, nodes: list[Node], now: str) -> dict:
    """calculateStatus (annotation path); `pool` is the freshest copy of the pool."""
    old = pool.get("status") or {}
    c = counts(pool, nodes)
    status: dict[str, Any] = {
        "observedGeneration": pool["metadata"].get("generation", 0),
        "machineCount": c.machine,
        "updatedMachineCount": c.updated,
        "readyMachineCount": c.ready,
        "unavailableMachineCount": c.unavailable,
        "degradedMachineCount": c.degraded,
        "certExpirys": [],
        "configuration": dict(old.get("configuration") or {}),
        "conditions": [dict(x) for x in old.get("conditions") or []],
    }
    spec_cfg = (pool.get("spec") or {}).get("configuration") or {}
    line = f"MachineConfig {spec_cfg.get('name', '')}"
    all_updated = c.updated == c.machine and c.ready == c.machine and c.unavailable == 0
    if all_updated:
        set_condition(status, UPDATED, "True", "", f"All nodes are updated with {line}", now)
        set_condition(status, UPDATING, "False", "", "", now)
        cfg = status["configuration"]
        if cfg.get("name") != spec_cfg.get("name") or (cfg.get("source") or []) != (spec_cfg.get("source") or []):
            status["configuration"] = dict(spec_cfg)
    else:
        set_condition(status, UPDATED, "False", "", "", now)
        if (pool.get("spec") or {}).get("paused"):
            set_condition(status, UPDATING, "False", "", f"Pool is paused; will not update to {line}", now)
        else:
            set_condition(status, UPDATING, "True", "", f"All nodes are updating to {line}", now)
    node_degraded = c.degraded > 0
    node_msg = ", ".join(c.degraded_reasons)
    if node_degraded:
        set_condition(status, NODE_DEGRADED, "True", f"{c.degraded} nodes are reporting degraded status on sync",
                      node_msg, now)
    else:
        set_condition(status, NODE_DEGRADED, "False", "", "", now)
    render_degraded = is_condition_true(old, RENDER_DEGRADED)
    if node_degraded or render_degraded:
        set_condition(status, DEGRADED, "True", "", node_msg if node_degraded else "", now)
    else:
        set_condition(status, DEGRADED, "False", "", "", now)
    if not status["configuration"]:
        status.pop("configuration")
    return status


def status_changed(old: dict | None, new: dict) -> bool:
    """equality.Semantic.DeepEqual on the status (missing and empty count alike)."""
    old = old or {}
    keys = set(old) | set(new)
    for k in keys:
        a, b = old.get(k), new.get(k)
        if a in (None, [], {}, 0) and b in (None, [], {}, 0):
            continue
        if a != b:
            return True
    return False


def served_config(pool: Pool) -> str:
    """What the Machine Config Server hands a new node (cluster_server.go GetConfig).

    The spec's config once any node has updated to it, else the status's; a
    pool that was never reported on (bootstrap) serves its spec.
    """
    status = pool.get("status") or {}
    if status.get("updatedMachineCount", 0) > 0 or not (status.get("configuration") or {}).get("name"):
        return target(pool)
    return status["configuration"]["name"]


# -- schedulable masters (pkg/controller/node/node_controller.go reconcileMaster) -------------------

MASTER_LABEL = "node-role.kubernetes.io/master"
WORKER_LABEL = "node-role.kubernetes.io/worker"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
MASTER_TAINT = {"key": MASTER_LABEL, "effect": "NoSchedule"}


def is_master(node: Node) -> bool:
    return MASTER_LABEL in (node["metadata"].get("labels") or {})


def master_reconcile(node: Node, schedulable: bool, control_plane_label: bool
                     ) -> tuple[dict[str, str | None], list[dict] | None]:
    """What reconcileMaster changes on a master: (label patch, new taints or None).

    Schedulable: add the worker role label, remove the master NoSchedule taint
    (matched by key and effect); not: the reverse (makeMasterNodeSchedulable /
    makeMasterNodeUnSchedulable, release-4.14 node_controller.go:297-349). From
    release-4.16 it first adds the control-plane role label if missing
    (updateMasterNodeControlPlaneLabel, 4.16:518-524).
    """
    labels = node["metadata"].get("labels") or {}
    patch: dict[str, str | None] = {}
    if control_plane_label and CONTROL_PLANE_LABEL not in labels:
        patch[CONTROL_PLANE_LABEL] = ""
    taints = list((node.get("spec") or {}).get("taints") or [])
    tainted = any(t.get("key") == MASTER_TAINT["key"] and t.get("effect") == MASTER_TAINT["effect"] for t in taints)
    new_taints: list[dict] | None = None
    if schedulable:
        if WORKER_LABEL not in labels:
            patch[WORKER_LABEL] = ""
        if tainted:
            new_taints = [t for t in taints if not (t.get("key") == MASTER_TAINT["key"]
                                                    and t.get("effect") == MASTER_TAINT["effect"])]
    else:
        if WORKER_LABEL in labels:
            patch[WORKER_LABEL] = None
        if not tainted:
            new_taints = [*taints, dict(MASTER_TAINT)]
    return patch, new_taints
