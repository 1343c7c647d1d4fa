# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The plan of a change: which nodes get or lose the pool label, and which will reboot.

A node reboots exactly when the part of its rendered config that we own
changes: it moves between pools that do and do not select our MachineConfig,
or our MachineConfig's files or extensions change under it. Custom pools
inherit the worker MachineConfigs, so moving between worker and a custom pool
changes nothing else (other MachineConfigs of the custom role are the user's
and are not counted).

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

from ansible_collections.sandboxed.containers.plugins.module_utils._membership import primary_pool
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    ROLE_LABEL,
    node_role_label,
    reboot_content,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import matches


@dataclass
class Plan:
    label: list[str] = field(default_factory=list)  # nodes that get the custom pool's node-role label
    unlabel: list[str] = field(default_factory=list)  # nodes that lose it
    reboot: list[str] = field(default_factory=list)  # nodes whose rendered content changes
    moves: dict[str, list] = field(default_factory=dict)  # node -> [pool before, pool after]
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _selects(pool: dict, mc: dict | None) -> bool:
    if not mc:
        return False
    role = ((mc.get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL)
    sel = (pool.get("spec") or {}).get("machineConfigSelector")
    return role is not None and bool(sel) and matches(sel, {ROLE_LABEL: role})


def _content(pool_name: str | None, pools: dict[str, dict], mc: dict | None) -> tuple:
    if pool_name is None or pool_name not in pools or not _selects(pools[pool_name], mc):
        return ()
    return reboot_content(mc.get("spec"))


def plan(nodes: list[dict], pools: list[dict], *, current_mc: dict | None, desired_mc: dict | None,
         custom_pool: dict | None, chosen: set[str] | None, remove_custom_pool: bool = False) -> Plan:
    """Plans moving from the cluster as it is to the desired state.

    `custom_pool` is the desired custom pool (None on the worker or master path),
    `chosen` the nodes that must carry its node-role label (None: labels are left alone),
    `desired_mc` the desired MachineConfig (None when it is removed).
    """
    before = {p["metadata"]["name"]: p for p in pools}
    after = dict(before)
    label_key = None
    if custom_pool is not None:
        after[custom_pool["metadata"]["name"]] = custom_pool
        label_key = node_role_label(custom_pool["metadata"]["name"])
    if remove_custom_pool and custom_pool is not None:
        after.pop(custom_pool["metadata"]["name"], None)
    result = Plan()
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = n["metadata"]["name"]
        labels = dict(n["metadata"].get("labels") or {})
        was = primary_pool(name, labels, list(before.values()))
        if label_key and chosen is not None:
            if name in chosen and label_key not in labels:
                labels[label_key] = ""
                result.label.append(name)
            elif name not in chosen and label_key in labels:
                del labels[label_key]
                result.unlabel.append(name)
        will = primary_pool(name, labels, list(after.values()))
        for m in (was, will):
            if m.error and m.error not in result.errors:
                result.errors.append(m.error)
        if was.pool != will.pool:
            result.moves[name] = [was.pool, will.pool]
        if _content(was.pool, before, current_mc) != _content(will.pool, after, desired_mc):
            result.reboot.append(name)
    return result


def desired_machine_config_like(current: dict | None, spec: dict, role: str) -> dict:
    """A MachineConfig-shaped dict for planning from a spec and role."""
    mc = copy.deepcopy(current) if current else {"metadata": {}}
    mc.setdefault("metadata", {}).setdefault("labels", {})[ROLE_LABEL] = role
    mc["spec"] = spec
    return mc
