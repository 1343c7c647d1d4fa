#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: machine_config_pool
short_description: The custom MachineConfigPool for the nodes that get sandboxed containers
version_added: 1.0.0
description:
  - Creates, updates or deletes a custom MachineConfigPool that inherits the worker MachineConfigs
    (its C(machineConfigSelector) selects the roles V(worker) and its own name, as the MCO's custom-pool
    admission policy requires) and selects the nodes labelled C(node-role.kubernetes.io/<name>).
  - A node joins the pool when it gets that label (see M(sandboxed.containers.node_role)); the MCO moves it
    out of the worker pool and rolls the pool's rendered config out to it.
  - Deleting a pool that still has nodes would leave them without a pool, so it is refused; remove the
    node-role label from them first. In check mode, where the steps before only moved the nodes in a dry run, it
    reports the deletion it would make once they have left.
  - It acts only on a pool that carries the collection's label C(app.kubernetes.io/managed-by=sandboxed.containers).
    One of the same name without it (the operator's, an administrator's) is refused before any change unless
    O(adopt=true), and left alone, with a warning, by O(state=absent).
  - Writes use server-side apply; check mode uses server-side dry runs.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  name:
    description: Name of the pool.
    type: str
    default: kata-oc
  max_unavailable:
    description: How many nodes the MCO may update at once, a number or a percentage such as V(25%).
      Omitted means the MCO's default of 1.
    type: raw
  version:
    description: Value of the C(sandboxed.containers/version) annotation; defaults to the collection's version.
    type: str
  state:
    description: Whether the pool exists.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - With O(state=present), take over a pool of this name that the collection did not create; it gets the
        collection's label and settings.
      - O(state=absent) never deletes such a pool.
    type: bool
    default: false
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
- name: A custom pool that updates two nodes at a time
  sandboxed.containers.machine_config_pool:
    name: kata-oc
    max_unavailable: 2
"""

RETURN = r"""
msg:
  description: Why nothing was done, for a pool the collection did not create; or what check mode would delete.
  returned: sometimes
  type: str
result:
  description: The pool as the API server returned it (empty when absent).
  returned: success
  type: dict
diff:
  description: Before and after. Only with C(--diff).
  returned: diff mode
  type: dict
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._membership import pool_members
from ansible_collections.sandboxed.containers.plugins.module_utils._names import DEFAULT_POOL_NAME, MC_API
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    custom_pool,
    is_managed,
    leave_foreign,
    refuse_foreign,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import (
    MaxUnavailableError,
    parse_max_unavailable,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION


def ensure(cluster: Cluster) -> dict:
    p = cluster.task.params
    name = p["name"]
    if p["state"] == "absent":
        pools = cluster.list(MC_API, "MachineConfigPool")
        existing = next((x for x in pools if x["metadata"]["name"] == name), None)
        if existing is not None and not is_managed(existing):
            # The operator's or an administrator's: never the collection's to delete.
            cluster.task.warn(leave_foreign("MachineConfigPool", name))
            return {"changed": False, "result": {}, "msg": leave_foreign("MachineConfigPool", name)}
        if existing is not None:
            members = pool_members(name, cluster.list("v1", "Node"), pools)
            if members and cluster.task.check_mode:
                # The steps before this one moved its nodes out only in a dry run: say what a real run does.
                return {"changed": True, "result": {},
                        "msg": f"would delete pool {name} once its nodes "
                               f"({', '.join(n['metadata']['name'] for n in members)}) have left it",
                        "diff": {"before": existing, "after": {}}}
            if members:
                raise ClusterError(
                    f"pool {name} still has nodes ({', '.join(n['metadata']['name'] for n in members)}); deleting it "
                    f"would leave them without a pool. Remove their node-role.kubernetes.io/{name} label and wait "
                    "until they are back in the worker pool first"
                )
        changed, diff = cluster.delete(MC_API, "MachineConfigPool", name)
        return {"changed": changed, "result": {}, "diff": diff}
    existing = cluster.get(MC_API, "MachineConfigPool", name)
    if existing is not None and not is_managed(existing) and not p["adopt"]:
        raise ClusterError(refuse_foreign("MachineConfigPool", name))
    try:
        mu = parse_max_unavailable(p["max_unavailable"])
    except MaxUnavailableError as e:
        raise ClusterError(f"{e}; nothing was changed") from None
    pool = custom_pool(name, max_unavailable=mu, version=p["version"] or COLLECTION_VERSION)
    changed, result, diff = cluster.apply(pool)
    return {"changed": changed, "result": result, "diff": diff}


ARGUMENT_SPEC = {
    "name": {"type": "str", "default": DEFAULT_POOL_NAME},
    "max_unavailable": {"type": "raw"},
    "version": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "adopt": {"type": "bool", "default": False},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, ensure)


if __name__ == "__main__":
    main()
