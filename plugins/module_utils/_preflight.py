# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Preflight: from the user's settings and the cluster as it is, the target and the plan, or a clear refusal.

Everything here is pure: the preflight module reads the cluster and calls decide().

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ansible_collections.sandboxed.containers.plugins.module_utils._membership import primary_pool
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    MANAGED_BY,
    ROLE_LABEL,
    DropinError,
    check_crio_dropin,
    custom_pool,
    files_of,
    machine_config,
    node_role_label,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._plan import plan
from ansible_collections.sandboxed.containers.plugins.module_utils._quantity import QuantityError, validate_overhead
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import (
    SelectorError,
    is_empty,
    matches,
    to_string,
    validate,
)

WORKER_LABEL = node_role_label("worker")
MASTER_LABEL = node_role_label("master")
NFD_PREFIX = "feature.node.kubernetes.io/"
# Labels NFD (and the sandboxed containers operator's rule) set on nodes that can run Kata VMs.
VIRT_LABELS = ("feature.node.kubernetes.io/cpu-cpuid.VMX", "feature.node.kubernetes.io/cpu-cpuid.SVM",
               "feature.node.kubernetes.io/runtime.kata")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PERCENT = re.compile(r"^\d{1,3}%$")


class PreflightError(ValueError):
    """A reason not to change anything; the message says what is wrong and how to fix it."""


@dataclass
class Settings:
    node_selector: object = None
    pool_name: str = "kata-oc"
    runtime_class_name: str = "kata"
    handler: str = "kata"
    overhead: object = field(default_factory=lambda: {"cpu": "250m", "memory": "350Mi"})
    crio_dropin: str | None = None
    max_unavailable: object = None
    virtualization_check: str = "fail"  # fail, warn or ignore


@dataclass
class Decision:
    topology: str  # standard, compact or sno
    target_pool: str
    custom_pool: bool
    role: str  # the role label of our MachineConfig
    chosen_nodes: list[str]
    plan: dict
    warnings: list[str]
    messages: list[str]
    transition: str = "apply"

    def as_dict(self) -> dict:
        return asdict(self)


def validate_settings(s: Settings) -> tuple[dict, dict, object]:
    """Checks what needs no cluster; returns (selector, overhead, max_unavailable)."""
    try:
        selector = validate(s.node_selector, "sandboxed_containers_node_selector")
    except SelectorError as e:
        raise PreflightError(str(e)) from None
    if not isinstance(s.pool_name, str) or not _DNS_LABEL.match(s.pool_name) or len(s.pool_name) > 63:
        raise PreflightError(
            f"sandboxed_containers_pool_name {s.pool_name!r} must be a DNS label (lowercase letters, digits and "
            "'-', at most 63 characters), for example kata-oc"
        )
    if s.pool_name in ("master", "worker", "arbiter"):
        raise PreflightError(
            f"sandboxed_containers_pool_name {s.pool_name!r} is a pool of the MCO; choose a custom pool name "
            "such as kata-oc (or leave sandboxed_containers_node_selector empty to use the worker pool)"
        )
    for what, value in (("sandboxed_containers_runtime_class_name", s.runtime_class_name),
                        ("sandboxed_containers_handler", s.handler)):
        if not isinstance(value, str) or not _DNS_LABEL.match(value):
            raise PreflightError(f"{what} {value!r} must be a DNS label (lowercase letters, digits and '-')")
    try:
        overhead = validate_overhead(s.overhead)
    except QuantityError as e:
        raise PreflightError(f"sandboxed_containers_overhead: {e}") from None
    mu = s.max_unavailable
    if mu is not None and mu != "":
        if isinstance(mu, str) and mu.isdigit():
            mu = int(mu)
        count_ok = isinstance(mu, int) and not isinstance(mu, bool) and mu >= 1
        percent_ok = isinstance(mu, str) and bool(_PERCENT.match(mu)) and 0 < int(mu[:-1]) <= 100
        if not (count_ok or percent_ok):
            raise PreflightError(
                f"sandboxed_containers_max_unavailable {s.max_unavailable!r} must be a number of nodes (1 or more) "
                "or a percentage such as 25%"
            )
    else:
        mu = None
    if s.crio_dropin is not None:
        try:
            check_crio_dropin(s.crio_dropin, s.handler)
        except DropinError as e:
            raise PreflightError(f"{e} (check sandboxed_containers_crio_* and the drop-in template)") from None
    if s.virtualization_check not in ("fail", "warn", "ignore"):
        raise PreflightError("sandboxed_containers_virtualization_check must be fail, warn or ignore")
    return selector, overhead, mu


def virtualization_capable(node: dict) -> bool | None:
    """True or False where NFD labelled the node, None where it did not (no NFD)."""
    labels = node["metadata"].get("labels") or {}
    if not any(k.startswith(NFD_PREFIX) for k in labels):
        return None
    return any(labels.get(k) == "true" for k in VIRT_LABELS)


def conditions(pool: dict) -> dict:
    return {c.get("type"): c for c in ((pool.get("status") or {}).get("conditions") or [])}


def pool_health(pool: dict) -> str | None:
    """Why a pool cannot take a rollout now, or None."""
    name = pool["metadata"]["name"]
    if (pool.get("spec") or {}).get("paused"):
        return (f"pool {name} is paused, so the MCO would not roll out the change; unpause it "
                f"(oc patch mcp/{name} --type merge -p '{{\"spec\":{{\"paused\":false}}}}') or wait for whoever "
                "paused it")
    for kind in ("RenderDegraded", "NodeDegraded", "Degraded"):
        c = conditions(pool).get(kind) or {}
        if c.get("status") == "True":
            detail = " ".join(x for x in (c.get("reason"), c.get("message")) if x)
            return (f"pool {name} is {kind}{': ' + detail if detail else ''}; fix it first "
                    f"(oc describe mcp/{name}), then run again")
    return None


def decide(settings: Settings, nodes: list[dict], pools: list[dict], *, current_mc: dict | None,
           kataconfigs: list[str], operation: str = "install") -> Decision:
    """The target pool, the chosen nodes and the plan; raises PreflightError before anything changes."""
    selector, _overhead, max_unavailable = validate_settings(settings)
    refuse_kataconfigs(kataconfigs)
    by_name = {p["metadata"]["name"]: p for p in pools}
    for required in ("master", "worker"):
        if required not in by_name:
            raise PreflightError(f"the cluster has no {required} MachineConfigPool; is the MCO running?")
    existing_custom = by_name.get(settings.pool_name)
    if existing_custom is not None:
        managed = (existing_custom["metadata"].get("labels") or {}).items() >= MANAGED_BY.items()
        if not managed:
            raise PreflightError(
                f"a MachineConfigPool named {settings.pool_name} exists and is not managed by sandboxed.containers "
                "(perhaps the sandboxed containers operator's); choose another sandboxed_containers_pool_name"
            )

    warnings: list[str] = []
    messages: list[str] = []
    membership = {
        n["metadata"]["name"]: primary_pool(n["metadata"]["name"], n["metadata"].get("labels"), pools).pool
        for n in nodes
    }
    # Dedicated workers: worker-role nodes the master pool does not own.
    workers = sorted(
        n["metadata"]["name"] for n in nodes
        if WORKER_LABEL in (n["metadata"].get("labels") or {}) and membership[n["metadata"]["name"]] != "master"
    )
    if not workers:
        topology = "sno" if len(nodes) == 1 else "compact"
        if not is_empty(selector):
            raise PreflightError(
                f"this is a {'single-node' if topology == 'sno' else 'compact'} cluster: its workers are control-plane "
                "nodes, which the MCO keeps in the master pool, so no subset of nodes can be chosen; leave "
                "sandboxed_containers_node_selector empty to install on every node (each reboots once)"
            )
        target, custom, role = "master", False, "master"
        chosen = sorted(n for n, p in membership.items() if p == "master")
        messages.append(
            f"{'single-node' if topology == 'sno' else 'compact'} cluster: the worker pool has no machines, so the "
            f"master pool is the target and every node of it ({', '.join(chosen)}) gets sandboxed containers"
        )
    else:
        topology = "standard"
        if is_empty(selector):
            target, custom, role = "worker", False, "worker"
            chosen = sorted(n for n, p in membership.items() if p == "worker")
            if existing_custom is not None:
                # Back from a custom pool to all workers: every node of it returns to worker.
                chosen = sorted(set(chosen) | {n for n, p in membership.items() if p == settings.pool_name})
        else:
            target, custom, role = settings.pool_name, True, settings.pool_name
            node_labels = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in nodes}
            chosen = sorted(w for w in workers if matches(selector, node_labels[w]))
            masters = sorted(n for n, p in membership.items()
                             if p == "master" and matches(selector, node_labels[n]))
            if masters:
                warnings.append(
                    f"the selector also matches control-plane nodes {', '.join(masters)}; the MCO keeps them in the "
                    "master pool, so they are left alone"
                )
            if not chosen:
                hint = (" To take sandboxed containers off every node, run playbooks/uninstall.yml instead"
                        if current_mc is not None else "")
                raise PreflightError(
                    f"sandboxed_containers_node_selector ({to_string(selector)}) matches no worker node; "
                    f"the workers are {', '.join(workers)}. Fix the selector, or label the nodes you want "
                    f"(oc label node <name> <key>=<value>).{hint}"
                )
        if max_unavailable is not None and not custom:
            warnings.append("sandboxed_containers_max_unavailable applies to the custom pool only; the worker pool's "
                            "own maxUnavailable is left as it is")

    if not chosen:
        raise PreflightError("no node would get sandboxed containers; check sandboxed_containers_node_selector")

    not_capable = []
    unknown = 0
    node_map = {n["metadata"]["name"]: n for n in nodes}
    for name in chosen:
        cap = virtualization_capable(node_map[name])
        if cap is False:
            not_capable.append(name)
        elif cap is None:
            unknown += 1
    if not_capable and settings.virtualization_check != "ignore":
        msg = (f"nodes {', '.join(not_capable)} are not virtualization-capable according to their Node Feature "
               f"Discovery labels (none of {', '.join(VIRT_LABELS)} is \"true\"), so Kata VMs cannot start there; "
               "exclude them with sandboxed_containers_node_selector, or set "
               "sandboxed_containers_virtualization_check to warn")
        if settings.virtualization_check == "fail":
            raise PreflightError(msg)
        warnings.append(msg)
    if unknown and settings.virtualization_check != "ignore":
        warnings.append(f"{unknown} chosen nodes have no Node Feature Discovery labels; their virtualization "
                        "support was not checked")

    for name in ([target] + (["worker"] if custom else [])):
        if name in by_name:
            why = pool_health(by_name[name])
            if why:
                raise PreflightError(why)

    desired_custom = custom_pool(settings.pool_name, max_unavailable=max_unavailable) if custom else None
    if settings.crio_dropin is None:
        raise PreflightError("the CRI-O drop-in is needed to plan the change (crio_dropin)")
    desired_mc = machine_config(role, settings.crio_dropin)
    p = plan(nodes, pools, current_mc=current_mc, desired_mc=desired_mc,
             custom_pool=desired_custom if custom else (existing_custom if existing_custom is not None else None),
             chosen=set(chosen) if custom else (set() if existing_custom is not None else None),
             remove_custom_pool=not custom and existing_custom is not None)
    if p.errors:
        raise PreflightError("; ".join(p.errors) + "; fix the node labels so each node matches at most one custom pool")
    current_role = _role(current_mc)
    if current_role not in (None, "worker", "master", role) and current_role != settings.pool_name:
        raise PreflightError(
            f"the installed MachineConfig targets pool {current_role}, not {role}; renaming the custom pool is not "
            f"supported. Set sandboxed_containers_pool_name to {current_role}, or run playbooks/uninstall.yml first"
        )
    return Decision(topology, target, custom, role, chosen, p.as_dict(), warnings, messages,
                    transition=transition(current_role, role, custom))


def _role(mc: dict | None) -> str | None:
    return ((mc or {}).get("metadata", {}).get("labels") or {}).get(ROLE_LABEL) if mc else None


def transition(current_role: str | None, role: str, custom: bool) -> str:
    """How to move from the installed MachineConfig role to the desired one with one reboot per node.

    apply: create or update in place (MachineConfig, pool, wait for its render, node labels, wait).
    to_custom: from the worker pool to a custom pool: the pool first (it inherits the worker MachineConfig),
    then the nodes move with no content change, then the MachineConfig leaves the worker role.
    to_worker: from a custom pool to the worker pool: the MachineConfig takes the worker role first (the
    custom pool keeps inheriting it), then the nodes move back with no content change, then the pool goes.
    """
    if current_role == "worker" and custom:
        return "to_custom"
    if current_role not in (None, "worker", "master") and role == "worker":
        return "to_worker"
    return "apply"


def parse_version(v: str | None) -> tuple[int, ...] | None:
    """1.2.3 -> (1, 2, 3); pre-release and build parts are ignored; None when absent or not a version."""
    if not v:
        return None
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", v)
    return tuple(int(x) for x in m.groups()) if m else None


def check_versions(installed: dict[str, str | None], ours: str, allow_downgrade: bool) -> list[str]:
    """Refuses to go back to an older collection; returns what moves forward (kind name: old -> new)."""
    mine = parse_version(ours)
    newer = {k: v for k, v in installed.items() if v and parse_version(v) and mine and parse_version(v) > mine}
    if newer and not allow_downgrade:
        raise PreflightError(
            "a newer version of sandboxed.containers installed this cluster ("
            + ", ".join(f"{k} {v}" for k, v in sorted(newer.items()))
            + f"); this is {ours}. Use that version or newer, or set sandboxed_containers_allow_downgrade: true "
            "to go back to this version's configuration"
        )
    return [f"{k}: {v or 'unknown'} -> {ours}" for k, v in sorted(installed.items()) if v != ours]


# Pod phases that mean a pod may still run (or be about to run) in a Kata VM; Succeeded and Failed pods
# have no container left, so removing the runtime does not affect them.
ACTIVE_PHASES = ("Pending", "Running", "Unknown")


@dataclass
class Removal:
    path: str  # custom, worker, master or none
    custom_pool: bool  # our custom pool exists
    unlabel: list[str]
    plan: dict
    messages: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def refuse_kataconfigs(kataconfigs: list[str]) -> None:
    if kataconfigs:
        raise PreflightError(
            f"the OpenShift sandboxed containers operator manages this cluster (KataConfig {', '.join(kataconfigs)}); "
            "this collection would fight it. Manage Kata through the operator, or delete the KataConfig and let the "
            "operator uninstall first"
        )


def decide_uninstall(nodes: list[dict], pools: list[dict], *, current_mc: dict | None, pool_name: str,
                     runtime_class: str, pods: list[dict], force: bool, kataconfigs: list[str]) -> Removal:
    """What to remove and which nodes reboot; refuses while pods use the runtime class, unless forced."""
    refuse_kataconfigs(kataconfigs)
    active = sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods
                    if (p.get("spec") or {}).get("runtimeClassName") == runtime_class
                    and (p.get("status") or {}).get("phase", "Pending") in ACTIVE_PHASES)
    messages = []
    if active:
        shown = ", ".join(active[:20]) + (f" and {len(active) - 20} more" if len(active) > 20 else "")
        if not force:
            raise PreflightError(
                f"{len(active)} pods use the runtime class {runtime_class} (Pending, Running or Unknown): {shown}. "
                "Delete them (or move them to another runtime class), or set sandboxed_containers_force: true to "
                "uninstall anyway; they would lose their runtime"
            )
        messages.append(f"forced: {len(active)} pods still use the runtime class {runtime_class}: {shown}")
    by_name = {p["metadata"]["name"]: p for p in pools}
    ours = by_name.get(pool_name)
    if ours is not None and not (ours["metadata"].get("labels") or {}).items() >= MANAGED_BY.items():
        ours = None  # not ours to delete
    label = node_role_label(pool_name)
    labelled = sorted(n["metadata"]["name"] for n in nodes if label in (n["metadata"].get("labels") or {}))
    role = _role(current_mc)
    custom = ours is not None or bool(labelled) or role not in (None, "worker", "master")
    path = "custom" if custom else (role or "none")
    p = plan(nodes, pools, current_mc=current_mc, desired_mc=None, custom_pool=ours,
             chosen=set() if path == "custom" else None, remove_custom_pool=ours is not None)
    if path == "none":
        messages.append("sandboxed containers are not installed by this collection here; nothing to remove")
    return Removal(path, ours is not None, labelled if path == "custom" else [], p.as_dict(), messages)


def object_changes(*, current_mc: dict | None, desired_mc: dict, current_pool: dict | None,
                   desired_pool: dict | None, current_rc: dict | None, desired_rc: dict) -> list[str]:
    """In words, each managed object the change creates or alters (for the plan of check mode)."""
    out = []
    name = desired_mc["metadata"]["name"]
    if current_mc is None:
        out.append(f"MachineConfig {name}: created (role {_role(desired_mc)})")
    else:
        cur, new = current_mc.get("spec") or {}, desired_mc["spec"]
        if files_of(cur) != files_of(new):
            out.append(f"MachineConfig {name}: the CRI-O drop-in changes")
        if (cur.get("extensions") or []) != new["extensions"]:
            out.append(f"MachineConfig {name}: extensions {cur.get('extensions') or []} -> {new['extensions']}")
        if _role(current_mc) != _role(desired_mc):
            out.append(f"MachineConfig {name}: role {_role(current_mc)} -> {_role(desired_mc)}")
    if desired_pool is not None:
        pname = desired_pool["metadata"]["name"]
        if current_pool is None:
            out.append(f"MachineConfigPool {pname}: created")
        elif (current_pool.get("spec") or {}).get("maxUnavailable") != desired_pool["spec"].get("maxUnavailable"):
            out.append(f"MachineConfigPool {pname}: maxUnavailable "
                       f"{(current_pool.get('spec') or {}).get('maxUnavailable')} -> "
                       f"{desired_pool['spec'].get('maxUnavailable')}")
    elif current_pool is not None:
        out.append(f"MachineConfigPool {current_pool['metadata']['name']}: deleted")
    rname = desired_rc["metadata"]["name"]
    if current_rc is None:
        out.append(f"RuntimeClass {rname}: created")
    else:
        for key in ("handler", "overhead", "scheduling"):
            if current_rc.get(key) != desired_rc.get(key):
                out.append(f"RuntimeClass {rname}: {key} {current_rc.get(key)} -> {desired_rc.get(key)}")
    return out
