#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: pool_pause
short_description: Pause MachineConfigPools to stage a change, or resume the ones the collection paused
version_added: 1.0.0
description:
  - Pauses each pool in O(pools) (C(spec.paused=true)) and marks it with the annotation
    C(sandboxed.containers/paused-by-collection); or, with O(paused=false), resumes each of them that carries the
    mark and takes the mark off.
  - The MCO still renders a paused pool (C(spec.configuration) targets a config with every MachineConfig of its
    roles) but updates none of its nodes, and says so in its C(Updating) condition
    (C(Pool is paused; will not update to MachineConfig <name>)). Every change staged in a paused pool reaches its
    nodes in one update, one reboot per node, when it resumes.
  - A pool paused by someone else (no mark) is never resumed here, and pausing one fails, since the collection
    could not tell later whose pause to lift; the preflight refuses both before anything changes.
  - Changes are JSON merge patches of the pool's C(spec.paused) and the annotation; in check mode they are
    server-side dry runs.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  pools:
    description: Names of the pools. A pool that does not exist is left out (a custom pool not created yet).
    type: list
    elements: str
    required: true
  paused:
    description: V(true) pauses them with the collection's mark; V(false) resumes those that carry it.
    type: bool
    required: true
  operation:
    description: What paused them, kept as the mark's value for status and the report.
    type: str
    default: install
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Stage the change for a maintenance window
  sandboxed.containers.pool_pause:
    pools: [worker]
    paused: true

- name: In the window, resume the pools the collection paused
  sandboxed.containers.pool_pause:
    pools: [worker]
    paused: false
"""

RETURN = r"""
paused:
  description: The pools this run paused.
  returned: success
  type: list
  elements: str
resumed:
  description: The pools this run resumed.
  returned: success
  type: list
  elements: str
left_paused:
  description: With O(paused=false), pools paused by someone else, left paused (a warning says so).
  returned: success
  type: list
  elements: str
diff:
  description: Each pool's C(spec.paused) before and after. Only with C(--diff).
  returned: diff mode
  type: dict
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._names import MC_API, PAUSED_BY_ANNOTATION
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import (
    is_paused,
    pause_patch,
    paused_by_collection,
    paused_message,
)


def ensure(cluster: Cluster) -> dict:
    p = cluster.task.params
    pools = {x["metadata"]["name"]: x for x in cluster.list(MC_API, "MachineConfigPool")
             if x["metadata"]["name"] in p["pools"]}
    out: dict[str, list[str]] = {"paused": [], "resumed": [], "left_paused": []}
    before = {name: is_paused(pool) for name, pool in pools.items()}
    for name, pool in sorted(pools.items()):
        marked = PAUSED_BY_ANNOTATION in (pool["metadata"].get("annotations") or {})
        if p["paused"] and is_paused(pool) and not marked:
            raise ClusterError(f"pool {name} is paused by someone else (no {PAUSED_BY_ANNOTATION} mark), so the "
                               "collection would not know later whether to resume it; nothing was changed. "
                               + paused_message(name))
        if p["paused"] and not paused_by_collection(pool):
            cluster.patch(MC_API, "MachineConfigPool", name, pause_patch(True, p["operation"]))
            out["paused"].append(name)
        elif not p["paused"] and marked:
            # A stale mark on a running pool goes too: it would otherwise say a pause that is not there.
            cluster.patch(MC_API, "MachineConfigPool", name, pause_patch(False))
            if is_paused(pool):
                out["resumed"].append(name)
        elif not p["paused"] and is_paused(pool):
            cluster.task.warn(f"pool {name} stays paused: someone else paused it; {paused_message(name)}")
            out["left_paused"].append(name)
    after = {**before, **dict.fromkeys(out["paused"], True), **dict.fromkeys(out["resumed"], False)}
    changed = bool(out["paused"] or out["resumed"]) or any(
        not p["paused"] and PAUSED_BY_ANNOTATION in (pool["metadata"].get("annotations") or {})
        for pool in pools.values())
    return {"changed": changed, **out, "diff": {"before": before, "after": after}}


ARGUMENT_SPEC = {
    "pools": {"type": "list", "elements": "str", "required": True},
    "paused": {"type": "bool", "required": True},
    "operation": {"type": "str", "default": "install"},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, ensure)


if __name__ == "__main__":
    main()
