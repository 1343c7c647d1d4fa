#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: node_role
short_description: Give exactly the chosen nodes the node-role label of a custom pool
version_added: 1.0.0
description:
  - Makes the label C(node-role.kubernetes.io/<pool>) present on exactly the nodes in O(nodes) and absent
    from every other node, in one call. This is what moves nodes into a custom MachineConfigPool and back to
    the worker pool; the MCO then reboots each moved node once, if its rendered content changes.
  - Label changes are JSON merge patches of the node metadata only; in check mode they are server-side dry runs.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  pool:
    description: The custom pool; the label is C(node-role.kubernetes.io/<pool>).
    type: str
    required: true
  nodes:
    description: Names of the nodes that must carry the label. An empty list removes it from every node.
    type: list
    elements: str
    required: true
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
- name: Move worker-0 and worker-1 into the kata-oc pool, every other node out of it
  sandboxed.containers.node_role:
    pool: kata-oc
    nodes: [worker-0, worker-1]
"""

RETURN = r"""
labelled:
  description: Nodes that got the label.
  returned: success
  type: list
  elements: str
unlabelled:
  description: Nodes that lost it.
  returned: success
  type: list
  elements: str
diff:
  description: The nodes carrying the label before and after. Only with C(--diff).
  returned: diff mode
  type: dict
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._names import node_role_label


def ensure(cluster: Cluster) -> dict:
    p = cluster.task.params
    key = node_role_label(p["pool"])
    add, remove, having = cluster.label_exactly(key, "", p["nodes"])
    return {"changed": bool(add or remove), "labelled": add, "unlabelled": remove,
            "diff": {"before": {key: having}, "after": {key: sorted(set(p["nodes"]))}}}


ARGUMENT_SPEC = {
    "pool": {"type": "str", "required": True},
    "nodes": {"type": "list", "elements": "str", "required": True},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, ensure)


if __name__ == "__main__":
    main()
