#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check a cluster and settings before any change, and plan the change
version_added: 1.0.0
description:
  - Reads the cluster and never changes it. Fails with a message that says what is wrong and how to fix it
    when the change cannot be made, so that nothing is left half-done.
  - "Checks: the settings (label selector, pool name, overhead quantities, maxUnavailable, the CRI-O drop-in);
    the API server is reachable and serves C(machineconfiguration.openshift.io/v1); no KataConfig exists
    (the OpenShift sandboxed containers operator would manage the cluster); the selector matches at least one
    worker; the chosen nodes are virtualization-capable where Node Feature Discovery labelled them; the target
    pool is neither degraded nor paused."
  - "Decides the target: the worker pool when O(node_selector) is empty, a custom pool O(pool_name) for the
    matching workers otherwise, and the master pool on compact and single-node clusters, where the worker
    pool has no machines."
  - Returns the plan, in particular the nodes that will reboot, so that check mode can show it.
author:
  - sandboxed.containers contributors
options:
  operation:
    description: The change to plan.
    type: str
    choices: [install, upgrade]
    default: install
  node_selector:
    description:
      - A Kubernetes label selector (C(matchLabels) and/or C(matchExpressions) with V(In), V(NotIn),
        V(Exists), V(DoesNotExist)) choosing the workers that get sandboxed containers.
      - Empty means every worker, through the worker pool itself.
    type: dict
    default: {}
  pool_name:
    description: Name of the custom pool used when O(node_selector) is not empty.
    type: str
    default: kata-oc
  runtime_class_name:
    description: Name of the RuntimeClass.
    type: str
    default: kata
  handler:
    description: The CRI-O runtime handler.
    type: str
    default: kata
  overhead:
    description: The pod overhead of the RuntimeClass, as Kubernetes quantities.
    type: dict
    default: {cpu: 250m, memory: 350Mi}
  crio_dropin:
    description: The CRI-O drop-in content, checked and used to plan which nodes reboot.
    type: str
    required: true
  max_unavailable:
    description: maxUnavailable of the custom pool, a number of nodes or a percentage such as V(25%).
    type: raw
  virtualization_check:
    description: What to do when a chosen node is not virtualization-capable according to its NFD labels.
    type: str
    choices: [fail, warn, ignore]
    default: fail
  machine_config_name:
    description: Name of the collection's MachineConfig.
    type: str
    default: 50-sandboxed-containers
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
- name: Plan sandboxed containers on the workers labelled for it
  sandboxed.containers.preflight:
    node_selector:
      matchLabels:
        sandboxed: "true"
    crio_dropin: "{{ lookup('ansible.builtin.template', '50-kata.toml.j2') }}"
  register: preflight

- name: Show the nodes that would reboot
  ansible.builtin.debug:
    msg: "{{ preflight.plan.reboot }}"
"""

RETURN = r"""
api_host:
  description: The API server the collection talks to.
  returned: success
  type: str
topology:
  description: V(standard), V(compact) or V(sno).
  returned: success
  type: str
target_pool:
  description: The pool whose nodes get sandboxed containers.
  returned: success
  type: str
  sample: kata-oc
custom_pool:
  description: Whether the target is a custom pool the collection manages.
  returned: success
  type: bool
role:
  description: The C(machineconfiguration.openshift.io/role) label of the MachineConfig.
  returned: success
  type: str
chosen_nodes:
  description: The nodes that get sandboxed containers.
  returned: success
  type: list
  elements: str
plan:
  description: What the change does to nodes.
  returned: success
  type: dict
  contains:
    label:
      description: Nodes that get the pool's node-role label.
      type: list
      elements: str
    unlabel:
      description: Nodes that lose it.
      type: list
      elements: str
    reboot:
      description: Nodes whose rendered config changes, so that the MCO reboots each of them once.
      type: list
      elements: str
    moves:
      description: Node name to [pool before, pool after].
      type: dict
installed:
  description: What the collection already manages in the cluster, with versions.
  returned: success
  type: dict
messages:
  description: Notes for the user, such as the compact-cluster target.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, new_module, run
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import MC_API, VERSION_ANNOTATION
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    PreflightError,
    Settings,
    decide,
    validate_settings,
)


def kataconfigs(cluster: Cluster) -> list[str]:
    try:
        return [k["metadata"]["name"] for k in cluster.list("kataconfiguration.openshift.io/v1", "KataConfig")]
    except ClusterError as e:
        if "does not serve" in str(e):
            return []  # the operator's API is not installed
        raise


def check(cluster: Cluster) -> dict:
    p = cluster.module.params
    settings = Settings(
        node_selector=p["node_selector"], pool_name=p["pool_name"], runtime_class_name=p["runtime_class_name"],
        handler=p["handler"], overhead=p["overhead"], crio_dropin=p["crio_dropin"],
        max_unavailable=p["max_unavailable"], virtualization_check=p["virtualization_check"],
    )
    try:
        validate_settings(settings)  # bad input is reported before the cluster is even read
    except PreflightError as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None
    nodes = cluster.list("v1", "Node")
    pools = cluster.list(MC_API, "MachineConfigPool")
    current_mc = cluster.get(MC_API, "MachineConfig", p["machine_config_name"])
    rc = cluster.get("node.k8s.io/v1", "RuntimeClass", p["runtime_class_name"])
    try:
        d = decide(settings, nodes, pools, current_mc=current_mc, kataconfigs=kataconfigs(cluster),
                   operation=p["operation"])
    except PreflightError as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None
    for w in d.warnings:
        cluster.module.warn(w)
    decision = d.as_dict()
    decision.pop("warnings")  # given through module.warn above

    def version(obj):
        return ((obj or {}).get("metadata", {}).get("annotations") or {}).get(VERSION_ANNOTATION)

    pool_obj = next((x for x in pools if x["metadata"]["name"] == p["pool_name"]), None)
    installed = {
        "machine_config": {"name": p["machine_config_name"], "version": version(current_mc)} if current_mc else None,
        "pool": {"name": p["pool_name"], "version": version(pool_obj)} if pool_obj else None,
        "runtime_class": {"name": p["runtime_class_name"], "version": version(rc)} if rc else None,
    }
    return {"changed": False, "api_host": cluster.host, "installed": installed, **decision}


def main() -> None:
    module = new_module(
        {
            "operation": {"type": "str", "choices": ["install", "upgrade"], "default": "install"},
            "node_selector": {"type": "dict", "default": {}},
            "pool_name": {"type": "str", "default": "kata-oc"},
            "runtime_class_name": {"type": "str", "default": "kata"},
            "handler": {"type": "str", "default": "kata"},
            "overhead": {"type": "dict", "default": {"cpu": "250m", "memory": "350Mi"}},
            "crio_dropin": {"type": "str", "required": True},
            "max_unavailable": {"type": "raw"},
            "virtualization_check": {"type": "str", "choices": ["fail", "warn", "ignore"], "default": "fail"},
            "machine_config_name": {"type": "str", "default": "50-sandboxed-containers"},
        },
        supports_check_mode=True,
    )
    run(module, check)


if __name__ == "__main__":
    main()
