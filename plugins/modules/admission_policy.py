#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: admission_policy
short_description: Decide who may run sandboxed workloads, with a ValidatingAdmissionPolicy
version_added: 1.0.0
description:
  - Creates, updates or deletes the ValidatingAdmissionPolicy C(sandboxed-containers-runtime-class) and its binding,
    which the API server enforces without a webhook (Kubernetes 1.30 and later, OpenShift 4.17 and later).
  - Where the API server does not serve ValidatingAdmissionPolicy (OpenShift 4.14 to 4.16), a policy with rules is
    refused before anything changes, and anything else (no policy, V(absent)) does nothing.
  - "Rules (O(policy.modes)), which combine: V(namespaces), only namespaces with a label (default
    C(sandboxed-containers.openshift.io/allowed=true)) or listed by name may run pods with the runtime class;
    V(users), only listed users, groups or service accounts may create or update workloads that use it;
    V(require), in namespaces with a label (default C(sandboxed-containers.openshift.io/required=true)) every pod
    must use it, which gates native (runc) containers."
  - Pods and the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs are
    checked, so a workload is refused where it is created. For the users rule, the pods that workload controllers
    create are allowed (the workload was checked), through O(policy.trusted_users).
  - Refusals name the rule and how to get access. O(policy.validation_actions) can be V(Warn) or V(Audit) to roll a
    policy out before enforcing it.
  - With no mode, the policy objects are removed.
  - With O(policy) null, the policy that is installed, if any, is kept, rebuilt by this version of the collection
    (how upgrades update it); the settings of the installed policy are kept in its C(sandboxed.containers/policy)
    annotation.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  runtime_class_name:
    description: The runtime class the rules are about.
    type: str
    default: kata
  verify_namespace:
    description: The namespace of the collection's verify pods, which the namespaces and users rules let through
      (only the automation can write to it, see the C(automation_access) role). Empty lets nothing through.
    type: str
    default: sandboxed-containers-verify
  state:
    description: V(absent) removes the policy whatever O(policy) says.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
  - sandboxed.containers.policy
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Only labelled namespaces and the platform team may run sandboxed workloads
  sandboxed.containers.admission_policy:
    policy:
      modes: [namespaces, users]
      allowed_groups: [platform-team]

- name: Try it in warn mode first
  sandboxed.containers.admission_policy:
    policy:
      modes: [require]
      validation_actions: [Warn]
"""

RETURN = r"""
result:
  description: The policy and binding as the API server returned them (empty when absent).
  returned: success
  type: list
  elements: dict
"""

import json

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, new_module, run
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    POLICY_NAME,
    POLICY_OPTIONS,
    SETTINGS_ANNOTATION,
    PolicyError,
    objects,
)

API = "admissionregistration.k8s.io/v1"
KINDS = ("ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy")  # binding first on removal


NOT_SERVED = ("the admission policy needs ValidatingAdmissionPolicy in admissionregistration.k8s.io/v1, which "
              "OpenShift serves from 4.17 (Kubernetes 1.30); this cluster does not serve it. Upgrade the cluster, or "
              "leave the policy unset")


def ensure(cluster: Cluster) -> dict:
    p = cluster.module.params
    policy = p["policy"]
    if not cluster.serves(API, "ValidatingAdmissionPolicy"):
        # OpenShift 4.14-4.16: no policy can exist, so there is nothing to keep or remove.
        if p["state"] == "present" and policy and policy.get("modes"):
            raise ClusterError(f"{NOT_SERVED}; nothing was changed")
        return {"changed": False, "result": [], "msg": "ValidatingAdmissionPolicy is not served here: no policy"}
    if policy is None and p["state"] == "present":
        installed = cluster.get(API, "ValidatingAdmissionPolicy", POLICY_NAME)
        if installed is None:
            return {"changed": False, "result": []}
        policy = json.loads((installed["metadata"].get("annotations") or {}).get(SETTINGS_ANNOTATION) or "{}")
    try:
        desired = [] if p["state"] == "absent" else objects(
            policy, p["runtime_class_name"], verify_namespace=p["verify_namespace"] or None)
    except PolicyError as e:
        raise ClusterError(f"{e}; nothing was changed") from None
    changed, results, diffs = False, [], []
    if not desired:
        for kind in KINDS:
            c, d = cluster.delete(API, kind, POLICY_NAME)
            changed |= c
            diffs.append(d)
    else:
        for obj in desired:
            c, result, d = cluster.apply(obj)
            changed |= c
            results.append(result)
            diffs.append(d)
    out = {"changed": changed, "result": results}
    if cluster.module._diff:
        out["diff"] = {"before": [d.get("before") for d in diffs if d], "after": [d.get("after") for d in diffs if d]}
    return out


def main() -> None:
    module = new_module(
        {
            "policy": {"type": "dict", "options": POLICY_OPTIONS},
            "runtime_class_name": {"type": "str", "default": "kata"},
            "verify_namespace": {"type": "str", "default": "sandboxed-containers-verify"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    run(module, ensure)


if __name__ == "__main__":
    main()
