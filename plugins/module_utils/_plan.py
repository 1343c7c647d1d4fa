# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The plan of a change: which nodes get or lose the pool label, which reboot, which pools carry our config.

A node reboots exactly when the rendered config of its pool after the change
differs from the one before in a way the machine-config daemon reboots for
(see _rendered): it moves between pools whose content differs, or our
MachineConfig's files or extensions change under it, or the order of the
extensions changes because our MachineConfig moved between roles. The plan
renders every pool from every MachineConfig of the cluster, before and after,
so that it predicts what the MCO will do, not what we hope it does.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ansible_collections.sandboxed.containers.plugins.module_utils._membership import primary_pool
from ansible_collections.sandboxed.containers.plugins.module_utils._names import node_role_label
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import Release
from ansible_collections.sandboxed.containers.plugins.module_utils._rendered import Content, reboots, render, selects


@dataclass
class Plan:
    label: list[str] = field(default_factory=list)  # nodes that get the custom pool's node-role label
    unlabel: list[str] = field(default_factory=list)  # nodes that lose it
    reboot: list[str] = field(default_factory=list)  # nodes whose rendered content changes so that they reboot
    why: dict[str, str] = field(default_factory=dict)  # node -> why it reboots
    moves: dict[str, list] = field(default_factory=dict)  # node -> [pool before, pool after]
    handler: list[str] = field(default_factory=list)  # nodes whose config carries our MachineConfig after
    handler_kept: list[str] = field(default_factory=list)  # ... before and after
    pools: dict[str, list] = field(default_factory=dict)  # pools that carry our MachineConfig after -> nodes
    pools_losing: list[str] = field(default_factory=list)  # pools that carry it before and not after
    pools_without: list[str] = field(default_factory=list)  # pools without it after whose nodes change
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def reason(before: Content, after: Content) -> str:
    """In words, what changes for a node that reboots."""
    parts = []
    if before.extensions != after.extensions:
        if sorted(before.extensions) == sorted(after.extensions):
            parts.append(f"the MCO reorders its extensions {before.extensions} -> {after.extensions}")
        else:
            parts.append(f"extensions {before.extensions} -> {after.extensions}")
    files = sorted(p for p in set(before.files) | set(after.files) if before.files.get(p) != after.files.get(p))
    if files:
        parts.append("files " + ", ".join(files))
    if before.kernel_arguments != after.kernel_arguments:
        parts.append("kernel arguments")
    if before.units != after.units:
        parts.append("systemd units")
    if (before.kernel_type, before.fips, before.os_image) != (after.kernel_type, after.fips, after.os_image):
        parts.append("the OS image, kernel type or FIPS")
    return "; ".join(parts)


def _swap(machine_configs: list[dict], name: str, mc: dict | None) -> list[dict]:
    out = [x for x in machine_configs if x["metadata"]["name"] != name]
    return out + ([mc] if mc is not None else [])


def _render_all(pools: dict[str, dict], machine_configs: list[dict], worker_first: bool) -> dict[str, Content]:
    return {name: render(pool, machine_configs, worker_first=worker_first) for name, pool in pools.items()}


def _relabel(name: str, labels: dict, label_key: str | None, chosen: set[str] | None, result: Plan) -> dict:
    """The node's labels after the change: the custom pool's node-role label on the chosen nodes only."""
    labels = dict(labels)
    if label_key and chosen is not None:
        if name in chosen and label_key not in labels:
            labels[label_key] = ""
            result.label.append(name)
        elif name not in chosen and label_key in labels:
            del labels[label_key]
            result.unlabel.append(name)
    return labels


def plan(nodes: list[dict], pools: list[dict], *, machine_configs: list[dict], current_mc: dict | None,
         desired_mc: dict | None, custom_pool: dict | None, chosen: set[str] | None,
         remove_custom_pool: bool = False, release: Release | None = None) -> Plan:
    """Plans moving from the cluster as it is to the desired state.

    `machine_configs` are the cluster's MachineConfigs (the rendered ones may be
    left out), `custom_pool` the desired custom pool (None on the worker or
    master path), `chosen` the nodes that must carry its node-role label (None:
    labels are left alone), `desired_mc` the desired MachineConfig (None when it
    is removed), `release` the cluster's OpenShift release (its merge order;
    None: 4.15 and later).
    """
    worker_first = release is None or release.worker_first_merge
    ours = (desired_mc or current_mc or {}).get("metadata", {}).get("name")
    before = {pool["metadata"]["name"]: pool for pool in pools}
    after = dict(before)
    label_key = None
    removed: set[str] = set()
    if custom_pool is not None:
        custom = custom_pool["metadata"]["name"]
        after[custom] = custom_pool
        label_key = node_role_label(custom)
        if remove_custom_pool:
            after.pop(custom, None)
            removed = {custom}
    rendered_before = _render_all(before, _swap(machine_configs, ours, current_mc) if ours else machine_configs,
                                  worker_first)
    rendered_after = _render_all(after, _swap(machine_configs, ours, desired_mc) if ours else machine_configs,
                                 worker_first)
    with_before = {name for name, pool in before.items() if current_mc is not None and selects(pool, current_mc)}
    with_after = {name for name, pool in after.items() if desired_mc is not None and selects(pool, desired_mc)}
    result = Plan(pools={name: [] for name in sorted(with_after)},
                  pools_losing=sorted(with_before - with_after - removed))
    settling = set(result.pools_losing)
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = n["metadata"]["name"]
        was = primary_pool(name, n["metadata"].get("labels"), list(before.values()))
        will = primary_pool(name, _relabel(name, n["metadata"].get("labels") or {}, label_key, chosen, result),
                            list(after.values()))
        for m in (was, will):
            if m.error and m.error not in result.errors:
                result.errors.append(m.error)
        if was.pool != will.pool:
            result.moves[name] = [was.pool, will.pool]
        old = rendered_before.get(was.pool) if was.pool else None
        new = rendered_after.get(will.pool) if will.pool else None
        if reboots(old, new):
            result.reboot.append(name)
            result.why[name] = reason(old, new)
        if will.pool and will.pool not in with_after and (name in result.reboot or name in result.moves):
            settling.add(will.pool)
        if will.pool in with_after:
            result.handler.append(name)
            result.pools[will.pool].append(name)
            if was.pool in with_before:
                result.handler_kept.append(name)
    result.pools_without = sorted(settling)
    return result
