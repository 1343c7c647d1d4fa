# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Per-node and cluster status of the installation, the way the operator's KataConfig reports kataNodes; the
admission policy and whether it is in force; the pods that use the runtime class.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ansible_collections.sandboxed.containers.plugins.module_utils._membership import primary_pool
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    HANDLER_LABEL,
    MANAGED_BY,
    MCD_REASON,
    MCD_STATE,
    READY_SINCE_ANNOTATION,
    VERSION_ANNOTATION,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    HANDLER_POLICY_NAME,
    POLICY_NAME,
    POLICY_NAMES,
    SETTINGS_ANNOTATION,
    PolicyError,
    settings,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import is_paused, paused_by_collection

STATES = ("installed", "installing", "waiting", "failed", "not installed")
# Pod phases that mean a pod may still run (or be about to run) in a Kata VM; Succeeded and Failed pods
# have no container left, so removing the runtime does not affect them.
ACTIVE_PHASES = ("Pending", "Running", "Unknown")


def pods_using(pods: list[dict], runtime_classes: str | Iterable[str], *, active: bool = False) -> list[dict]:
    """The pods whose spec.runtimeClassName is `runtime_classes` (a name, or any of several names), in the order
    given; `active`: only those that may still run (ACTIVE_PHASES; a pod without a phase yet is Pending)."""
    names = {runtime_classes} if isinstance(runtime_classes, str) else set(runtime_classes)
    return [pod for pod in pods if (pod.get("spec") or {}).get("runtimeClassName") in names
            and (not active or (pod.get("status") or {}).get("phase", "Pending") in ACTIVE_PHASES)]


def pod_ref(pod: dict) -> str:
    """namespace/name, as oc and the messages name a pod."""
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def sources(pool: dict) -> list[str]:
    return [s.get("name") for s in ((pool.get("spec") or {}).get("configuration") or {}).get("source") or []]


# Node by node, whether sandboxed pods can run there (rollouts): the collection labelled it ready; its update is
# under way; it waits its turn (or its label); its update failed; something holds it; the install does not touch it.
READINESS = ("ready", "updating", "waiting", "degraded", "blocked", "not chosen")


def readiness(entry: dict, pool: dict | None, handler: str | None, ready_since: str | None) -> dict:
    """One of READINESS for a node entry of node_states, with the reason and the time it became ready."""
    mcd, carries = entry["mcd_state"], entry["state"] != "not installed" or entry["handler_label"]
    if mcd in ("Degraded", "Unreconcilable"):
        return {"readiness": "degraded", "readiness_reason": entry["reason"] or mcd, "ready_since": None}
    if handler and entry["handler_label"] == handler:
        return {"readiness": "ready", "readiness_reason": "", "ready_since": ready_since}
    if not carries:
        return {"readiness": "not chosen", "readiness_reason": "", "ready_since": None}
    if entry["state"] == "installed":
        return {"readiness": "waiting", "ready_since": None,
                "readiness_reason": "updated, not labelled yet: the install labels it (run it again if it ended)"}
    if pool is not None and is_paused(pool):
        by = "the collection, to stage the change" if paused_by_collection(pool) else "someone else"
        return {"readiness": "blocked", "ready_since": None,
                "readiness_reason": f"staged, pool paused: pool {entry['pool']} is paused by {by}; the MCO updates "
                                    "none of its nodes until it resumes"}
    if mcd == "Working" or (entry["desired_config"] and entry["desired_config"] != entry["current_config"]):
        return {"readiness": "updating", "readiness_reason": "", "ready_since": None}
    return {"readiness": "waiting", "readiness_reason": "its turn in the rollout", "ready_since": None}


def node_states(nodes: list[dict], pools: list[dict], machine_config: str, handler: str | None = None) -> list[dict]:
    """installed / installing / waiting / failed / not installed for every node, and its readiness for
    sandboxed pods (readiness())."""
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
        entry.update(readiness(entry, pool, handler, ann.get(READY_SINCE_ANNOTATION)))
        out.append(entry)
    return out


def staged(pools: list[dict], states: list[dict]) -> dict[str, list[str]]:
    """Staged, pool paused: each paused pool that carries the MachineConfig (`pools`) -> its nodes not yet on the
    rendered config it targets, which update (one reboot each) when it resumes."""
    out = {}
    for pool in pools:
        name = pool["metadata"]["name"]
        nodes = [s["name"] for s in states if s["pool"] == name and s["current_config"] != s["target_config"]]
        if is_paused(pool) and nodes:
            out[name] = nodes
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
        "paused": is_paused(pool),
        "paused_by_collection": paused_by_collection(pool),
    }


def policy_record(obj: dict | None) -> dict | None:
    """The admission policy settings recorded on an object (the RuntimeClass, or the policy), or None."""
    text = (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(SETTINGS_ANNOTATION)
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return {"modes": "not JSON"}  # reported as an invalid record
    return value if value is None or isinstance(value, dict) else {"modes": "not a mapping"}


def policy_state(serves: bool, get: Callable[[str, str], dict | None],
                 rc: dict | None) -> tuple[dict | None, dict[tuple[str, str], dict | None]]:
    """The admission policy's record and its installed objects by (kind, name), through `get(kind, name)` (None:
    not there); `serves`: the API server serves ValidatingAdmissionPolicy."""
    installed: dict[tuple[str, str], dict | None] = {}
    if serves:
        for name in POLICY_NAMES:
            for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
                installed[(kind, name)] = get(kind, name)
    labels = ((rc or {}).get("metadata") or {}).get("labels") or {}
    ours = rc is not None and all(labels.get(k) == v for k, v in MANAGED_BY.items())
    # The RuntimeClass's record survives the policy's deletion; the policy's own annotation, before it exists.
    record = ((policy_record(rc) if ours else None)
              or policy_record(installed.get(("ValidatingAdmissionPolicy", POLICY_NAMES[0]))))
    return record, installed


def _policy_expected(modes: list[str]) -> list[str]:
    """The policies the recorded modes need: the runtime class's always, the handler's for namespaces or users."""
    if not modes:
        return []
    return [POLICY_NAME] + ([HANDLER_POLICY_NAME] if {"namespaces", "users"} & set(modes) else [])


def policy_summary(record: dict | None, installed: dict[tuple[str, str], dict | None],
                   missing_namespaces: list[str]) -> dict:
    """The admission policy as status reports it: the recorded modes and actions, and whether it is in force (every
    policy and binding present, the bindings' actions as recorded, no type-checking warnings).

    record: the recorded settings (None: no policy); installed: (kind, name) -> the object or None."""
    try:
        s = settings(record) if record is not None else None
    except PolicyError as e:
        s = None
        problems = [f"the recorded admission policy is not valid ({e}); apply it again with playbooks/policy.yml"]
    else:
        problems = []
    modes = list(s["modes"]) if s else []
    actions = list(s["validation_actions"]) if s and modes else []
    expected = _policy_expected(modes)
    objects, type_checking = [], []
    for name in sorted({n for _kind, n in installed} | set(expected), key=POLICY_NAMES.index):
        for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
            obj = installed.get((kind, name))
            entry: dict = {"kind": kind, "name": name, "present": obj is not None}
            if kind.endswith("Binding") and obj is not None:
                entry["validation_actions"] = (obj.get("spec") or {}).get("validationActions") or []
                if name in expected and sorted(entry["validation_actions"]) != sorted(actions):
                    problems.append(f"{kind} {name} has validationActions {entry['validation_actions']}, "
                                    f"recorded {actions}")
            if kind == "ValidatingAdmissionPolicy" and obj is not None:
                for w in ((obj.get("status") or {}).get("typeChecking") or {}).get("expressionWarnings") or []:
                    type_checking.append({"policy": name, "field": w.get("fieldRef"), "warning": w.get("warning")})
                    problems.append(f"{name} {w.get('fieldRef')}: {w.get('warning')}")
            if name in expected and obj is None:
                problems.append(f"{kind} {name} is missing")
            if name not in expected and obj is not None:
                problems.append(f"{kind} {name} is not part of the recorded policy")
            objects.append(entry)
    return {
        "modes": modes,
        "validation_actions": actions,
        "in_force": bool(modes) and not problems,
        "objects": objects,
        "type_checking": type_checking,
        "missing_namespaces": list(missing_namespaces),
        "problems": problems,
    }
