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
    pool is neither degraded nor paused; the rules of the admission policy (O(policy)), which are applied later
    in the run."
  - "Decides the target: the worker pool when O(node_selector) is empty, a custom pool O(pool_name) for the
    matching workers otherwise, and the master pool on compact and single-node clusters, where the worker
    pool has no machines."
  - Returns the plan, in particular the nodes that will reboot, so that check mode can show it.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  operation:
    description:
      - The change to plan. V(install) and V(upgrade) plan the desired state (V(upgrade) needs an installation).
      - V(uninstall) plans the removal and refuses while pods use the runtime class, unless O(force=true).
    type: str
    choices: [install, upgrade, uninstall]
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
      Required for O(operation=install) and O(operation=upgrade).
    type: str
  tolerations:
    description: Tolerations of the RuntimeClass, to plan its change.
    type: list
    elements: dict
    default: []
  force:
    description: With O(operation=uninstall), go on although pods in phase C(Pending), C(Running) or C(Unknown)
      use the runtime class.
    type: bool
    default: false
  allow_downgrade:
    description: Allow replacing objects written by a newer version of the collection.
    type: bool
    default: false
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
  - sandboxed.containers.policy
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
transition:
  description: How the change is made with one reboot per node; V(apply), V(to_custom) (from the worker pool
    to a custom pool) or V(to_worker) (back).
  returned: install and upgrade
  type: str
changes:
  description: In words, each managed object that is created or changes.
  returned: install and upgrade
  type: list
  elements: str
versions:
  description: "The managed objects whose collection version moves, as C(kind: old -> new)."
  returned: install and upgrade
  type: list
  elements: str
path:
  description: For O(operation=uninstall), V(custom), V(worker), V(master) or V(none) (nothing installed).
  returned: uninstall
  type: str
unlabel:
  description: For O(operation=uninstall), the nodes that lose the custom pool's node-role label.
  returned: uninstall
  type: list
  elements: str
messages:
  description: Notes for the user, such as the compact-cluster target.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, new_module, run
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    MC_API,
    custom_pool,
    machine_config,
    runtime_class,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import POLICY_OPTIONS, PolicyError
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import settings as policy_settings
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    PreflightError,
    Settings,
    check_versions,
    decide,
    decide_uninstall,
    object_changes,
    validate_settings,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._status import version_of
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION


def kataconfigs(cluster: Cluster) -> list[str]:
    try:
        return [k["metadata"]["name"] for k in cluster.list("kataconfiguration.openshift.io/v1", "KataConfig")]
    except ClusterError as e:
        if "does not serve" in str(e):
            return []  # the operator's API is not installed
        raise


def check(cluster: Cluster) -> dict:
    p = cluster.module.params
    op = p["operation"]
    settings = Settings(
        node_selector=p["node_selector"], pool_name=p["pool_name"], runtime_class_name=p["runtime_class_name"],
        handler=p["handler"], overhead=p["overhead"], crio_dropin=p["crio_dropin"] if op != "uninstall" else None,
        max_unavailable=p["max_unavailable"], virtualization_check=p["virtualization_check"],
    )
    try:
        if op != "uninstall":
            validate_settings(settings)  # bad input is reported before the cluster is even read
            if p["policy"] is not None:
                policy_settings(p["policy"])  # applied late in the run: a mistake in it must stop it here
    except (PreflightError, PolicyError) as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None
    nodes = cluster.list("v1", "Node")
    pools = cluster.list(MC_API, "MachineConfigPool")
    current_mc = cluster.get(MC_API, "MachineConfig", p["machine_config_name"])
    current_pool = next((x for x in pools if x["metadata"]["name"] == p["pool_name"]), None)
    rc = cluster.get("node.k8s.io/v1", "RuntimeClass", p["runtime_class_name"])
    installed = {
        "machine_config": {"name": p["machine_config_name"], "version": version_of(current_mc)} if current_mc else None,
        "pool": {"name": p["pool_name"], "version": version_of(current_pool)} if current_pool else None,
        "runtime_class": {"name": p["runtime_class_name"], "version": version_of(rc)} if rc else None,
    }
    out = {"changed": False, "api_host": cluster.host, "installed": installed, "operation": op}
    try:
        if op == "uninstall":
            removal = decide_uninstall(
                nodes, pools, current_mc=current_mc, pool_name=p["pool_name"],
                runtime_class=p["runtime_class_name"], pods=cluster.list("v1", "Pod"), force=p["force"],
                kataconfigs=kataconfigs(cluster))
            return {**out, **removal.as_dict(), "runtime_class_exists": rc is not None}
        if op == "upgrade" and current_mc is None:
            raise PreflightError("sandboxed containers are not installed here (no MachineConfig "
                                 f"{p['machine_config_name']}); run playbooks/install.yml")
        kinds = {"machine_config": "MachineConfig", "pool": "MachineConfigPool", "runtime_class": "RuntimeClass"}
        versions = check_versions(
            {f"{kinds[k]} {v['name']}": v["version"] for k, v in installed.items() if v}, COLLECTION_VERSION,
            p["allow_downgrade"])
        d = decide(settings, nodes, pools, current_mc=current_mc, kataconfigs=kataconfigs(cluster), operation=op)
    except PreflightError as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None
    for w in d.warnings:
        cluster.module.warn(w)
    decision = d.as_dict()
    decision.pop("warnings")  # given through module.warn above
    desired_pool = custom_pool(p["pool_name"], max_unavailable=_int(p["max_unavailable"])) if d.custom_pool else None
    changes = object_changes(
        current_mc=current_mc, desired_mc=machine_config(d.role, p["crio_dropin"]),
        current_pool=current_pool if (d.custom_pool or d.transition == "to_worker") else None,
        desired_pool=desired_pool,
        current_rc=rc, desired_rc=runtime_class(p["runtime_class_name"], p["handler"], d.target_pool, p["overhead"],
                                                tolerations=p["tolerations"] or None))
    return {**out, **decision, "changes": changes, "versions": versions}


def _int(v):
    return int(v) if isinstance(v, str) and v.isdigit() else v


def main() -> None:
    module = new_module(
        {
            "operation": {"type": "str", "choices": ["install", "upgrade", "uninstall"], "default": "install"},
            "node_selector": {"type": "dict", "default": {}},
            "pool_name": {"type": "str", "default": "kata-oc"},
            "runtime_class_name": {"type": "str", "default": "kata"},
            "handler": {"type": "str", "default": "kata"},
            "overhead": {"type": "dict", "default": {"cpu": "250m", "memory": "350Mi"}},
            "tolerations": {"type": "list", "elements": "dict", "default": []},
            "crio_dropin": {"type": "str"},
            "max_unavailable": {"type": "raw"},
            "virtualization_check": {"type": "str", "choices": ["fail", "warn", "ignore"], "default": "fail"},
            "machine_config_name": {"type": "str", "default": "50-sandboxed-containers"},
            "force": {"type": "bool", "default": False},
            "allow_downgrade": {"type": "bool", "default": False},
            "policy": {"type": "dict", "options": POLICY_OPTIONS},
        },
        supports_check_mode=True,
        required_if=[("operation", "install", ("crio_dropin",)), ("operation", "upgrade", ("crio_dropin",))],
    )
    run(module, check)


if __name__ == "__main__":
    main()
