#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: runtime_class
short_description: The RuntimeClass that runs pods in Kata VMs on the nodes that have the handler
version_added: 1.0.0
description:
  - Creates, updates or deletes the RuntimeClass with the CRI-O handler, the pod overhead (added to every pod's
    requests by the API server's RuntimeClass admission plugin) and C(scheduling.nodeSelector) set to the label
    C(sandboxed.containers/handler=<handler>), which the collection puts on exactly the nodes whose rendered
    config carries the handler (see M(sandboxed.containers.node_label)), so that its pods land only there.
  - The overhead is checked as Kubernetes quantities before anything changes.
  - The handler of a RuntimeClass cannot be changed in place; a different handler deletes and recreates it,
    which is refused while pods use it.
  - It acts only on a RuntimeClass that carries the collection's label
    C(app.kubernetes.io/managed-by=sandboxed.containers). One of the same name without it (the operator's, an
    administrator's) is refused before any change unless O(adopt=true), and left alone, with a warning, by
    O(state=absent).
  - Writes use server-side apply; check mode uses server-side dry runs.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  name:
    description: Name of the RuntimeClass, the C(runtimeClassName) of pods.
    type: str
    default: kata
  handler:
    description: The CRI-O runtime handler, the table C([crio.runtime.runtimes.<handler>]) of the drop-in.
    type: str
    default: kata
  overhead:
    description: Pod overhead as Kubernetes quantities.
    type: dict
    default: {cpu: 250m, memory: 350Mi}
  tolerations:
    description: Tolerations added to the pods of the runtime class, for pools with tainted nodes.
    type: list
    elements: dict
    default: []
  version:
    description: Value of the C(sandboxed.containers/version) annotation; defaults to the collection's version.
    type: str
  state:
    description: Whether the RuntimeClass exists.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - With O(state=present), take over a RuntimeClass of this name that the collection did not create; it gets
        the collection's label and settings.
      - O(state=absent) never deletes such a RuntimeClass.
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
- name: The kata RuntimeClass, for the nodes labelled sandboxed.containers/handler=kata
  sandboxed.containers.runtime_class:
    overhead:
      cpu: 250m
      memory: 350Mi
"""

RETURN = r"""
msg:
  description: Why nothing was done, for a RuntimeClass the collection did not create.
  returned: when it was left alone
  type: str
result:
  description: The RuntimeClass as the API server returned it (empty when absent).
  returned: success
  type: dict
diff:
  description: Before and after. Only with C(--diff).
  returned: diff mode
  type: dict
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_HANDLER,
    DEFAULT_RUNTIME_CLASS,
    RUNTIME_CLASS_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    is_managed,
    leave_foreign,
    refuse_foreign,
    runtime_class,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._quantity import QuantityError, validate_overhead
from ansible_collections.sandboxed.containers.plugins.module_utils._status import pod_ref, pods_using
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION


def ensure(cluster: Cluster) -> dict:
    p = cluster.task.params
    existing = cluster.get(RUNTIME_CLASS_API, "RuntimeClass", p["name"])
    if p["state"] == "absent":
        if existing is not None and not is_managed(existing):
            # The operator's or an administrator's: never the collection's to delete.
            cluster.task.warn(leave_foreign("RuntimeClass", p["name"]))
            return {"changed": False, "result": {}, "msg": leave_foreign("RuntimeClass", p["name"])}
        changed, diff = cluster.delete(RUNTIME_CLASS_API, "RuntimeClass", p["name"])
        return {"changed": changed, "result": {}, "diff": diff}
    try:
        overhead = validate_overhead(p["overhead"])
    except QuantityError as e:
        raise ClusterError(f"{e}; nothing was changed") from None
    if existing is not None and not is_managed(existing) and not p["adopt"]:
        raise ClusterError(refuse_foreign("RuntimeClass", p["name"]))
    desired = runtime_class(p["name"], p["handler"], overhead, tolerations=p["tolerations"],
                            version=p["version"] or COLLECTION_VERSION)
    if existing and existing.get("handler") != p["handler"]:
        users = sorted(pod_ref(pod) for pod in pods_using(cluster.list("v1", "Pod"), p["name"]))
        if users:
            raise ClusterError(
                f"RuntimeClass {p['name']} has handler {existing.get('handler')!r}, which cannot be changed in place, "
                f"and pods use it: {', '.join(users)}. Delete those pods, then run again"
            )
        cluster.delete(RUNTIME_CLASS_API, "RuntimeClass", p["name"])
        if cluster.task.check_mode:
            return {"changed": True, "result": desired,
                    "diff": {"before": existing, "after": desired}}
    changed, result, diff = cluster.apply(desired)
    return {"changed": changed, "result": result, "diff": diff}


ARGUMENT_SPEC = {
    "name": {"type": "str", "default": DEFAULT_RUNTIME_CLASS},
    "handler": {"type": "str", "default": DEFAULT_HANDLER},
    "overhead": {"type": "dict", "default": {"cpu": "250m", "memory": "350Mi"}},
    "tolerations": {"type": "list", "elements": "dict", "default": []},
    "version": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "adopt": {"type": "bool", "default": False},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, ensure)


if __name__ == "__main__":
    main()
