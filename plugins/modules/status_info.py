#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: status_info
short_description: Report the state of sandboxed containers in a cluster
version_added: 1.0.0
description:
  - Reports, per node, whether sandboxed containers are V(installed), V(installing) (the MCO is updating it),
    V(waiting) (its update has not started), V(failed) (the MCO reports it Degraded, with the reason) or
    V(not installed), like the C(kataNodes) status of the operator's KataConfig.
  - Also reports the pools that carry the collection's MachineConfig, the RuntimeClass, the managed objects
    with the collection version that wrote them, and the pods that use the runtime class.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  machine_config_name:
    description: Name of the collection's MachineConfig.
    type: str
    default: 50-sandboxed-containers
  pool_name:
    description: Name of the custom pool, if one is used.
    type: str
    default: kata-oc
  runtime_class_name:
    description: Name of the RuntimeClass.
    type: str
    default: kata
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
attributes:
  check_mode:
    support: full
    details: It changes nothing in any mode.
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Status of sandboxed containers
  sandboxed.containers.status_info:
  register: kata

- name: Nodes that failed
  ansible.builtin.debug:
    msg: "{{ kata.nodes | selectattr('state', 'equalto', 'failed') | list }}"
"""

RETURN = r"""
installed:
  description: Whether the installation is complete, the RuntimeClass exists and every node of the pools that
    carry the MachineConfig runs it and carries the handler label.
  returned: success
  type: bool
unlabelled:
  description: Nodes that run the MachineConfig but lack the C(sandboxed.containers/handler) label the RuntimeClass
    schedules onto (for example nodes that joined a pool after the install); running the install again labels
    them.
  returned: success
  type: list
  elements: str
nodes:
  description: Per node, its pool, state, handler label and the MCO's view (current, desired and target config,
    reason).
  returned: success
  type: list
  elements: dict
counts:
  description: Number of nodes per state.
  returned: success
  type: dict
pools:
  description: The pools that carry the MachineConfig, with their status.
  returned: success
  type: list
  elements: dict
runtime_class:
  description: The RuntimeClass (handler, overhead, scheduling, version), or null.
  returned: success
  type: dict
managed:
  description: The objects the collection manages, with the version annotation of each.
  returned: success
  type: list
  elements: dict
pods:
  description: Pods that use the runtime class, with namespace, name, node and phase.
  returned: success
  type: list
  elements: dict
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, new_module, run
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import MC_API, ROLE_LABEL
from ansible_collections.sandboxed.containers.plugins.module_utils._status import (
    counts,
    node_states,
    pool_summary,
    sources,
    version_of,
)


def report(cluster: Cluster) -> dict:
    p = cluster.module.params
    mc_name = p["machine_config_name"]
    nodes = cluster.list("v1", "Node")
    pools = cluster.list(MC_API, "MachineConfigPool")
    mc = cluster.get(MC_API, "MachineConfig", mc_name)
    rc = cluster.get("node.k8s.io/v1", "RuntimeClass", p["runtime_class_name"])
    states = node_states(nodes, pools, mc_name)
    carrying = [x for x in pools if mc_name in sources(x)]
    custom = next((x for x in pools if x["metadata"]["name"] == p["pool_name"]), None)
    managed = []
    if mc:
        managed.append({"kind": "MachineConfig", "name": mc_name, "version": version_of(mc),
                        "role": (mc["metadata"].get("labels") or {}).get(ROLE_LABEL),
                        "extensions": (mc.get("spec") or {}).get("extensions") or []})
    if custom and version_of(custom):
        managed.append({"kind": "MachineConfigPool", "name": p["pool_name"], "version": version_of(custom)})
    if rc:
        managed.append({"kind": "RuntimeClass", "name": p["runtime_class_name"], "version": version_of(rc)})
    pods = sorted(
        ({"namespace": x["metadata"]["namespace"], "name": x["metadata"]["name"],
          "node": (x.get("spec") or {}).get("nodeName"), "phase": (x.get("status") or {}).get("phase")}
         for x in cluster.list("v1", "Pod")
         if (x.get("spec") or {}).get("runtimeClassName") == p["runtime_class_name"]),
        key=lambda d: (d["namespace"], d["name"]),
    )
    in_target = [s for s in states if s["pool"] in {x["metadata"]["name"] for x in carrying}]
    handler = (rc or {}).get("handler")
    unlabelled = sorted(s["name"] for s in in_target if s["state"] == "installed" and s["handler_label"] != handler)
    runtime_class = None
    if rc:
        runtime_class = {"name": p["runtime_class_name"], "handler": rc.get("handler"),
                         "overhead": (rc.get("overhead") or {}).get("podFixed"),
                         "scheduling": rc.get("scheduling"), "version": version_of(rc)}
    return {
        "changed": False,
        "installed": bool(mc and rc and in_target and all(s["state"] == "installed" for s in in_target)
                          and not unlabelled),
        "unlabelled": unlabelled,
        "nodes": states,
        "counts": counts(states),
        "pools": [pool_summary(x) for x in carrying],
        "runtime_class": runtime_class,
        "managed": managed,
        "pods": pods,
        "api_host": cluster.host,
    }


def main() -> None:
    module = new_module(
        {
            "machine_config_name": {"type": "str", "default": "50-sandboxed-containers"},
            "pool_name": {"type": "str", "default": "kata-oc"},
            "runtime_class_name": {"type": "str", "default": "kata"},
        },
        supports_check_mode=True,
    )
    run(module, report)


if __name__ == "__main__":
    main()
