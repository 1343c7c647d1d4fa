#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: node_label
short_description: Mark exactly the nodes whose config carries the runtime handler
version_added: 1.0.0
description:
  - Makes the label C(sandboxed.containers/handler=<handler>) present on exactly the nodes in O(nodes) and absent
    from every other node, in one call. The RuntimeClass schedules onto this label, so sandboxed pods land only on
    nodes whose rendered config carries the collection's MachineConfig, never on a schedulable control-plane node
    that carries the worker role label but stays in the master pool without the handler.
  - The install removes it from the nodes that are about to lose the handler before their rollout starts; the
    wait (M(sandboxed.containers.pool_wait), O(sandboxed.containers.pool_wait#module:label_ready)) puts it on each
    node as soon as that node is ready, and this module then makes the set exact. The uninstall removes it first.
  - A node that gets the label is annotated C(sandboxed.containers/ready-since) with the time (UTC); the
    annotation goes with the label.
  - Label changes are JSON merge patches of the node metadata only; in check mode they are server-side dry runs.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  handler:
    description: The CRI-O runtime handler, the value of the label.
    type: str
    default: kata
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
- name: Mark worker-0 and worker-1 as having the kata handler, and no other node
  sandboxed.containers.node_label:
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

import time

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_HANDLER,
    HANDLER_LABEL,
    READY_SINCE_ANNOTATION,
)


def ensure(cluster: Cluster) -> dict:
    p = cluster.task.params
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    add, remove, having = cluster.label_exactly(HANDLER_LABEL, p["handler"], p["nodes"],
                                                annotations={READY_SINCE_ANNOTATION: since})
    return {"changed": bool(add or remove), "labelled": add, "unlabelled": remove,
            "diff": {"before": {HANDLER_LABEL: having}, "after": {HANDLER_LABEL: sorted(set(p["nodes"]))}}}


ARGUMENT_SPEC = {
    "handler": {"type": "str", "default": DEFAULT_HANDLER},
    "nodes": {"type": "list", "elements": "str", "required": True},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, ensure)


if __name__ == "__main__":
    main()
