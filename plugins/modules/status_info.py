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
  - Names every other RuntimeClass with the same handler (pods that name it run sandboxed too), with a warning
    saying whether the admission policy gates it.
  - Reports the admission policy as recorded on the RuntimeClass (or on the policy), its modes and validation
    actions, and whether it is in force (every policy and binding present, the bindings' actions as recorded, no
    type-checking warnings in the policies' status), with a warning naming what is wrong otherwise; and the names
    in C(allowed_namespaces) that do not exist.
  - With O(rendered_dir), compares the cluster with the directory P(sandboxed.containers.render#role) wrote (or
    one that holds its files, such as openshift-install's C(openshift/) directory, or its Advanced Cluster
    Management Policy) the way a C(musthave) ConfigurationPolicy does, and returns the drift (RV(drift)).
  - Says, per node of the pools that carry the MachineConfig, whether it was installed at day 0 (its first boot
    already had the collection's MachineConfig), from the rendered config the MCO names in its
    C(machineconfiguration.openshift.io/firstPivotConfig) annotation (written from OpenShift 4.22 on; unknown
    before).
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
  handler:
    description: The CRI-O handler, to find the other RuntimeClasses with it; by default the RuntimeClass's
      handler, or V(kata) when it does not exist.
    type: str
  rendered_dir:
    description:
      - A directory written by P(sandboxed.containers.render#role) (C(playbooks/render.yml)) to compare the
        cluster with; files whose objects lack the collection's label C(app.kubernetes.io/managed-by) are ignored.
      - Each rendered object is V(missing) from the cluster, or V(changed) (each field that differs, with the
        rendered value and the cluster's; fields the cluster adds are not drift), and each object of the
        collection's kinds with its label that the directory lacks is V(extra).
      - The task fails before it reads the cluster when the directory does not exist or holds no object of the
        collection's.
    type: path
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

- name: Drift from what playbooks/render.yml wrote
  sandboxed.containers.status_info:
    rendered_dir: /srv/gitops/sandboxed-containers
  register: kata_drift

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
  description:
    - Per node, its pool, state, handler label and the MCO's view (current, desired and target config, reason).
    - C(readiness), whether sandboxed pods can run there, node by node - V(ready) (the collection labelled it;
      C(ready_since) says when, UTC), V(updating), V(waiting) (its turn in the rollout, or its label),
      V(degraded) (the daemon's reason), V(blocked) (for example its pool is paused), or V(not chosen); with
      C(readiness_reason).
  returned: success
  type: list
  elements: dict
counts:
  description: Number of nodes per state.
  returned: success
  type: dict
readiness:
  description: Number of nodes per readiness (see RV(nodes)).
  returned: success
  type: dict
  sample: {"ready": 2, "updating": 1, "waiting": 0, "degraded": 0, "blocked": 0, "not chosen": 3}
staged:
  description: Staged, pool paused - each paused pool that carries the MachineConfig, with its nodes not yet on
    the rendered config it targets; they update, one reboot each, when it resumes.
  returned: success
  type: dict
  sample: {"worker": ["worker-0", "worker-1"]}
paused_by_collection:
  description: Every pool the collection paused (its C(sandboxed.containers/paused-by-collection) mark) to stage a
    change; a run with O(sandboxed.containers.settings#role:main:sandboxed_containers_rollout=now) resumes them.
  returned: success
  type: list
  elements: str
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
other_runtime_classes:
  description: The other RuntimeClasses whose handler is the handler, by name.
  returned: success
  type: list
  elements: str
policy:
  description: The admission policy.
  returned: success
  type: dict
  contains:
    modes:
      description: The recorded modes; empty when there is no policy.
      type: list
      elements: str
    validation_actions:
      description: The recorded validation actions.
      type: list
      elements: str
    in_force:
      description: Whether the policy has modes, every policy and binding it needs is present, the bindings'
        actions are as recorded and the policies have no type-checking warnings.
      type: bool
    objects:
      description: Each policy and binding, whether present, and the bindings' validation actions.
      type: list
      elements: dict
    type_checking:
      description: The type-checking warnings of the policies' status.
      type: list
      elements: dict
    missing_namespaces:
      description: Names in C(allowed_namespaces) that do not exist; whoever creates one may run sandboxed pods
        there.
      type: list
      elements: str
    problems:
      description: What keeps the policy from being in force, in words.
      type: list
      elements: str
day0:
  description:
    - Whether the nodes of the pools that carry the MachineConfig were installed at day 0, their first boot
      already having the collection's extension and CRI-O drop-in; per node, RV(nodes) has
      C(installed_at_day0) (true, false, or null for unknown), C(first_boot_config) and C(day0_reason).
  returned: success
  type: dict
  contains:
    installed_at_day0:
      description: True when every such node was; false when one was not; null when it is unknown for one (its
        first boot config no longer exists, or OpenShift before 4.22 did not record it) or there is no such node.
      type: bool
    version:
      description: The version annotation of the collection's MachineConfig.
      type: str
    nodes:
      description: The nodes installed at day 0.
      type: list
      elements: str
    unknown:
      description: The nodes for which it is unknown.
      type: list
      elements: str
drift:
  description: With O(rendered_dir), the drift, one finding per object; empty when the cluster has everything
    rendered and nothing more.
  returned: when O(rendered_dir) is set
  type: list
  elements: dict
  contains:
    kind:
      description: The object's kind.
      type: str
    name:
      description: The object's name.
      type: str
    state:
      description: V(missing) (rendered, not in the cluster), V(changed) or V(extra) (in the cluster with the
        collection's label, not rendered).
      type: str
    fields:
      description: For V(changed), each field that differs, with its C(path) (for example
        C(overhead.podFixed.memory)), its C(rendered) value and the C(cluster)'s (null when absent).
      type: list
      elements: dict
  sample:
    - kind: RuntimeClass
      name: kata
      state: changed
      fields: [{"path": "overhead.podFixed.memory", "rendered": "350Mi", "cluster": "500Mi"}]
drift_messages:
  description: With O(rendered_dir), one line per finding of RV(drift).
  returned: when O(rendered_dir) is set
  type: list
  elements: str
  sample: ["RuntimeClass kata changed: overhead.podFixed.memory is 500Mi in the cluster, 350Mi rendered"]
drift_dir:
  description: The directory compared with, O(rendered_dir).
  returned: when O(rendered_dir) is set
  type: str
"""

import os

from ansible_collections.sandboxed.containers.plugins.module_utils._drift import (
    FIRST_PIVOT_CONFIG,
    day0,
    day0_summary,
    findings,
    line,
    load,
    no_objects_message,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._drift import KINDS as DRIFT_KINDS
from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import (
    ApiNotServed,
    Cluster,
    ClusterError,
    optional_list,
    run_module,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_POOL_NAME,
    DEFAULT_RUNTIME_CLASS,
    KATA_EXTENSIONS,
    MACHINE_CONFIG_NAME,
    MANAGED_BY_TEXT,
    MC_API,
    ROLE_LABEL,
    RUNTIME_CLASS_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import API as POLICY_API
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    HANDLER_POLICY_NAME,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import paused_by_collection
from ansible_collections.sandboxed.containers.plugins.module_utils._status import (
    READINESS,
    counts,
    node_states,
    pods_using,
    policy_state,
    policy_summary,
    pool_summary,
    sources,
    staged,
    version_of,
)


def policy_report(cluster: Cluster, rc: dict | None) -> dict:
    """The admission policy: what is recorded, what is installed, whether it is in force."""
    record, installed = policy_state(cluster.serves(POLICY_API, "ValidatingAdmissionPolicy"),
                                     lambda kind, name: cluster.get(POLICY_API, kind, name), rc)
    missing = []
    if isinstance(record, dict) and "namespaces" in (record.get("modes") or []):
        for name in record.get("allowed_namespaces") or []:
            try:
                if cluster.get("v1", "Namespace", name) is None:
                    missing.append(name)
            except ClusterError as e:
                cluster.task.warn(f"cannot check whether the allowed namespace {name} exists: {e}")
    summary = policy_summary(record, installed, missing)
    if summary["problems"]:
        cluster.task.warn("the admission policy is not in force: " + "; ".join(summary["problems"]) +
                          ". Run the install, upgrade or playbooks/policy.yml again to restore it")
    for name in missing:
        cluster.task.warn(f"sandboxed_containers_policy.allowed_namespaces: the namespace {name} does not exist; "
                          "whoever creates it may run sandboxed pods there")
    return summary


# The API of each kind the collection writes, for the drift's reads.
DRIFT_APIS = {"MachineConfig": MC_API, "MachineConfigPool": MC_API, "RuntimeClass": RUNTIME_CLASS_API,
              "ValidatingAdmissionPolicy": POLICY_API, "ValidatingAdmissionPolicyBinding": POLICY_API}


def rendered_objects(rendered_dir: str) -> tuple[str, list[dict], list[str]]:
    """The directory, the collection's objects in its files, and the files it could not read. Raises ClusterError
    (the task fails, nothing read from the cluster) when there is nothing to compare with."""
    where = rendered_dir  # type path: the user's home already expanded
    if not os.path.isdir(where):
        what = "is not a directory" if os.path.exists(where) else "does not exist"
        raise ClusterError(
            f"sandboxed_containers_render_dir {where} {what}; run playbooks/render.yml with the settings of the "
            "install to write it, or set "
            "sandboxed_containers_render_dir to the directory it wrote (empty: no drift check)")
    texts, problems = {}, []
    for entry in sorted(os.listdir(where)):
        path = os.path.join(where, entry)
        if not entry.endswith((".yaml", ".yml", ".json")) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                texts[entry] = f.read()
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"{entry}: {e}")
    objs, unreadable = load(texts)
    if not objs:
        raise ClusterError(no_objects_message(where))
    return where, objs, problems + unreadable


def drift(cluster: Cluster, rendered: list[dict]) -> list[dict]:
    """The findings of _drift for the rendered objects against the cluster; a kind the cluster does not serve
    (ValidatingAdmissionPolicy before OpenShift 4.17) has no object there: a rendered one is missing."""
    have: dict[tuple[str, str], dict | None] = {}
    for obj in rendered:
        kind, name = obj["kind"], obj["metadata"]["name"]
        try:
            have[(kind, name)] = cluster.get(DRIFT_APIS[kind], kind, name)
        except ApiNotServed:
            have[(kind, name)] = None
    labelled = []
    for kind in DRIFT_KINDS:
        for obj in optional_list(cluster, DRIFT_APIS[kind], kind, label_selector=MANAGED_BY_TEXT):
            labelled.append(dict(obj, kind=kind))  # a list's items may lack their kind
    return findings(rendered, have, labelled)


def drift_result(cluster: Cluster, where: str, objs: list[dict], problems: list[str]) -> dict:
    for problem in problems:
        cluster.task.warn(f"sandboxed_containers_render_dir {where}: skipped {problem}")
    found = drift(cluster, objs)
    return {"drift": found, "drift_messages": [line(f, where) for f in found], "drift_dir": where}


def day0_report(cluster: Cluster, nodes: list[dict], states: list[dict], chosen: list[dict],
                mc: dict | None) -> dict:
    """Adds installed_at_day0, first_boot_config and day0_reason to the chosen nodes' entries (None to the
    others'); returns the summary."""
    extensions = ((mc or {}).get("spec") or {}).get("extensions") or list(KATA_EXTENSIONS)
    by_name = {n["metadata"]["name"]: n for n in nodes}
    configs: dict[str, dict | None] = {}
    names = {s["name"] for s in chosen}
    entries = []
    for s in states:
        if s["name"] not in names:
            s.update({"installed_at_day0": None, "first_boot_config": None, "day0_reason": "not chosen"})
            continue
        node = by_name[s["name"]]
        first = (node["metadata"].get("annotations") or {}).get(FIRST_PIVOT_CONFIG)
        if first and first not in configs:
            configs[first] = cluster.get(MC_API, "MachineConfig", first)
        s.update(day0(node, configs, extensions, mc))
        entries.append(s)
    return day0_summary(entries, version_of(mc))


def runtime_class_summary(rc: dict | None, name: str) -> dict | None:
    if rc is None:
        return None
    return {"name": name, "handler": rc.get("handler"), "overhead": (rc.get("overhead") or {}).get("podFixed"),
            "scheduling": rc.get("scheduling"), "version": version_of(rc)}


def managed_objects(p: dict, mc: dict | None, custom: dict | None, rc: dict | None) -> list[dict]:
    """The objects the collection manages, with the version annotation of each."""
    managed = []
    if mc:
        managed.append({"kind": "MachineConfig", "name": p["machine_config_name"], "version": version_of(mc),
                        "role": (mc["metadata"].get("labels") or {}).get(ROLE_LABEL),
                        "extensions": (mc.get("spec") or {}).get("extensions") or []})
    if custom and version_of(custom):
        managed.append({"kind": "MachineConfigPool", "name": p["pool_name"], "version": version_of(custom)})
    if rc:
        managed.append({"kind": "RuntimeClass", "name": p["runtime_class_name"], "version": version_of(rc)})
    return managed


def report(cluster: Cluster) -> dict:
    p = cluster.task.params
    # The directory first: a wrong one fails the task before anything is read from the cluster.
    rendered = rendered_objects(p["rendered_dir"]) if p["rendered_dir"] else None
    mc_name = p["machine_config_name"]
    nodes = cluster.list("v1", "Node")
    pools = cluster.list(MC_API, "MachineConfigPool")
    mc = cluster.get(MC_API, "MachineConfig", mc_name)
    runtime_classes = cluster.list(RUNTIME_CLASS_API, "RuntimeClass")
    rc = next((x for x in runtime_classes if x["metadata"]["name"] == p["runtime_class_name"]), None)
    states = node_states(nodes, pools, mc_name, p["handler"] or (rc or {}).get("handler"))
    carrying = [x for x in pools if mc_name in sources(x)]
    custom = next((x for x in pools if x["metadata"]["name"] == p["pool_name"]), None)
    managed = managed_objects(p, mc, custom, rc)
    pods = sorted(
        ({"namespace": x["metadata"]["namespace"], "name": x["metadata"]["name"],
          "node": (x.get("spec") or {}).get("nodeName"), "phase": (x.get("status") or {}).get("phase")}
         for x in pods_using(cluster.list("v1", "Pod"), p["runtime_class_name"])),
        key=lambda d: (d["namespace"], d["name"]),
    )
    in_target = [s for s in states if s["pool"] in {x["metadata"]["name"] for x in carrying}]
    handler = (rc or {}).get("handler")
    unlabelled = sorted(s["name"] for s in in_target if s["state"] == "installed" and s["handler_label"] != handler)
    policy = policy_report(cluster, rc)
    handler = p["handler"] or handler or "kata"
    others = sorted(x["metadata"]["name"] for x in runtime_classes
                    if x.get("handler") == handler and x["metadata"]["name"] != p["runtime_class_name"])
    gated = policy["in_force"] and any(o["name"] == HANDLER_POLICY_NAME and o["present"] for o in policy["objects"])
    for name in others:
        cluster.task.warn(
            f"RuntimeClass {name} also has the handler {handler}: pods that name it run sandboxed too; "
            + ("the admission policy gates it like the collection's" if gated else
               "no admission policy gates it (set sandboxed_containers_policy with the namespaces or users mode), "
               f"or delete it if nothing uses it (oc delete runtimeclass {name})"))
    result = {
        "changed": False,
        "installed": bool(mc and rc and in_target and all(s["state"] == "installed" for s in in_target)
                          and not unlabelled),
        "unlabelled": unlabelled,
        "nodes": states,
        "counts": counts(states),
        "readiness": {r: sum(1 for s in states if s["readiness"] == r) for r in READINESS},
        "pools": [pool_summary(x) for x in carrying],
        "staged": staged(carrying, states),
        "paused_by_collection": sorted(x["metadata"]["name"] for x in pools if paused_by_collection(x)),
        "runtime_class": runtime_class_summary(rc, p["runtime_class_name"]),
        "managed": managed,
        "pods": pods,
        "other_runtime_classes": others,
        "policy": policy,
        "api_host": cluster.host,
        "day0": day0_report(cluster, nodes, states, in_target, mc),
    }
    if rendered is not None:
        result.update(drift_result(cluster, *rendered))
    return result


ARGUMENT_SPEC = {
    "machine_config_name": {"type": "str", "default": MACHINE_CONFIG_NAME},
    "pool_name": {"type": "str", "default": DEFAULT_POOL_NAME},
    "runtime_class_name": {"type": "str", "default": DEFAULT_RUNTIME_CLASS},
    "handler": {"type": "str"},
    "rendered_dir": {"type": "path"},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, report)


if __name__ == "__main__":
    main()
