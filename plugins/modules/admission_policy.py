#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: admission_policy
short_description: Decide who may run sandboxed workloads, with ValidatingAdmissionPolicies
version_added: 1.0.0
description:
  - Creates, updates or deletes the ValidatingAdmissionPolicies C(sandboxed-containers-runtime-class) and
    C(sandboxed-containers-runtime-class-handler) and their bindings, which the API server enforces without a
    webhook (Kubernetes 1.30 and later, OpenShift 4.17 and later).
  - Where the API server does not serve ValidatingAdmissionPolicy (OpenShift 4.14 to 4.16), a policy with rules is
    refused before anything changes, and anything else (no policy, V(absent)) does nothing.
  - "Rules (O(policy.modes)), which combine: V(namespaces), only namespaces with a label (default
    C(sandboxed-containers.openshift.io/allowed=true)) or listed by name may run pods with the runtime class;
    V(users), only listed users, groups or service accounts may create or update workloads that use it;
    V(require), in namespaces with a label (default C(sandboxed-containers.openshift.io/required=true)) every pod
    must use it, which gates native (runc) containers."
  - The namespaces and users rules gate every RuntimeClass whose handler is O(handler), not only
    O(runtime_class_name). C(sandboxed-containers-runtime-class-handler) takes the RuntimeClasses as parameters,
    so the API server evaluates it once per RuntimeClass, including RuntimeClasses created later.
  - Pods and the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
    ReplicationControllers and DeploymentConfigs are checked, so a workload is refused where it is created. For
    the users rule, the pods (and a DeploymentConfig's ReplicationControllers) that workload controllers create
    are allowed (the workload was checked), through O(policy.trusted_users).
  - The collection's verify pods pass the namespaces and users rules only when they are made by one of
    O(policy.verify_users) (by default the identity that applies the policy, found with a SelfSubjectReview) in a
    namespace labelled C(sandboxed.containers/verify=true), which only administrators can set on OpenShift. No
    namespace is let through by its name.
  - Names in O(policy.allowed_namespaces) that do not exist are warned about (whoever creates such a namespace
    may run sandboxed pods there).
  - Refusals name the rule and how to get access. O(policy.validation_actions) can be V(Warn) or V(Audit) to roll a
    policy out before enforcing it.
  - With no mode, the policy objects are removed.
  - The settings are recorded in the C(sandboxed.containers/policy) annotation of the collection's RuntimeClass
    (when it exists and carries the collection's label) and of the policies. With O(policy) null, the recorded
    policy is applied again, rebuilt by this version of the collection, so a policy or binding deleted by hand is
    restored (how install and upgrade keep it).
  - The runtime class name and the handler are checked (a DNS subdomain, a DNS label) before anything changes, and
    every value placed in the policies' CEL is written as a CEL string literal.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  runtime_class_name:
    description: The collection's RuntimeClass, which the rules are about (gated by name, whether it exists yet or
      not).
    type: str
    default: kata
  handler:
    description: The CRI-O handler; every other RuntimeClass with it is gated by the namespaces and users rules too.
    type: str
    default: kata
  state:
    description: V(absent) removes the policy whatever O(policy) says.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - The module acts only on policies and bindings that carry the collection's label
        C(app.kubernetes.io/managed-by=sandboxed.containers). One of its names without it is refused before any
        change unless O(adopt=true), which takes it over; a removal leaves it alone, with a warning.
    type: bool
    default: false
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

- name: Apply the recorded policy again (restores it if it was deleted)
  sandboxed.containers.admission_policy:
"""

RETURN = r"""
result:
  description: The policies and bindings as the API server returned them (empty when absent).
  returned: success
  type: list
  elements: dict
settings:
  description: The settings the policy was built from (as given, or as recorded when O(policy) is null), with
    C(verify_users) resolved; null when there is no policy.
  returned: success
  type: dict
source:
  description: Where the settings came from, V(given), V(recorded) (the RuntimeClass's or the policy's record),
    or null (no policy).
  returned: success
  type: str
missing_namespaces:
  description: Names in C(allowed_namespaces) that do not exist.
  returned: success
  type: list
  elements: str
"""

import json

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_HANDLER,
    DEFAULT_RUNTIME_CLASS,
    MANAGED_BY,
    RUNTIME_CLASS_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import leave_foreign, refuse_foreign
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    API,
    POLICY_NAMES,
    POLICY_OPTIONS,
    SETTINGS_ANNOTATION,
    PolicyError,
    check_names,
    objects,
    resolve,
    settings,
)

NOT_SERVED = ("the admission policy needs ValidatingAdmissionPolicy in admissionregistration.k8s.io/v1, which "
              "OpenShift serves from 4.17 (Kubernetes 1.30); this cluster does not serve it. Upgrade the cluster, or "
              "leave the policy unset")


def annotation(obj: dict | None) -> str | None:
    return (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(SETTINGS_ANNOTATION)


def is_ours(obj: dict | None) -> bool:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return bool(obj) and all(labels.get(k) == v for k, v in MANAGED_BY.items())


def recorded(cluster: Cluster, runtime_class: dict | None) -> dict | None:
    """The recorded settings: the RuntimeClass's record (which survives the policy's deletion), else the policy's
    own annotation (before the RuntimeClass exists), else None."""
    text = annotation(runtime_class) if is_ours(runtime_class) else None
    if text is None:
        text = annotation(cluster.get(API, "ValidatingAdmissionPolicy", POLICY_NAMES[0]))
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ClusterError(f"the recorded admission policy ({SETTINGS_ANNOTATION} annotation) is not a JSON "
                           "mapping; give sandboxed_containers_policy explicitly; nothing was changed")
    return value


def whoami(cluster: Cluster) -> str:
    """The username of the identity that applies the policy (a SelfSubjectReview, which every authenticated user
    may create; served wherever ValidatingAdmissionPolicy is)."""
    try:
        review = cluster.create({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                                 "metadata": {"name": ""}})
    except ClusterError as e:
        raise ClusterError(f"cannot tell who applies the policy, the default verify identity ({e}); set "
                           "sandboxed_containers_policy.verify_users; nothing was changed") from None
    return ((review.get("status") or {}).get("userInfo") or {}).get("username") or ""


def missing_namespaces(cluster: Cluster, names: list[str]) -> list[str]:
    missing = []
    for name in names:
        try:
            if cluster.get("v1", "Namespace", name) is None:
                missing.append(name)
        except ClusterError as e:
            cluster.task.warn(f"cannot check whether the allowed namespace {name} exists: {e}")
    return missing


def ensure(cluster: Cluster) -> dict:
    """Checks the names and settings, finds the policy to apply (given, recorded, or none), refuses another's
    objects of its names, applies the policies and bindings (deleting those no longer needed), and records the
    settings on the collection's RuntimeClass."""
    p = cluster.task.params
    rc_name, handler = p["runtime_class_name"], p["handler"]
    policy = p["policy"]
    try:
        check_names(rc_name, handler)  # they go into the policy: checked on every path, before anything changes
        if policy is not None:
            settings(policy)
    except PolicyError as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None
    if not cluster.serves(API, "ValidatingAdmissionPolicy"):
        # OpenShift 4.14-4.16: no policy can exist, so there is nothing to keep or remove.
        if p["state"] == "present" and policy and policy.get("modes"):
            raise ClusterError(f"{NOT_SERVED}; nothing was changed")
        return {"changed": False, "result": [], "settings": None, "source": None, "missing_namespaces": [],
                "msg": "ValidatingAdmissionPolicy is not served here: no policy"}
    runtime_class = cluster.get(RUNTIME_CLASS_API, "RuntimeClass", rc_name)
    source = "given"
    if p["state"] == "absent":
        policy = {"modes": []}
    elif policy is None:
        policy, source = recorded(cluster, runtime_class), "recorded"
        if policy is None:
            return {"changed": False, "result": [], "settings": None, "source": None, "missing_namespaces": []}
    try:
        needs_applier = settings(policy)["modes"] and settings(policy)["verify_users"] is None
        resolved = resolve(policy, whoami(cluster) if needs_applier else None)
        desired = objects(resolved, rc_name, handler)
    except PolicyError as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None
    changed, results, diffs = apply_objects(cluster, desired, p["adopt"])
    if is_ours(runtime_class):
        c, d = record(cluster, runtime_class, json.dumps(resolved, sort_keys=True) if desired else None)
        changed |= c
        diffs += d
    missing = warn_missing_namespaces(cluster, resolved) if desired else []
    return {"changed": changed, "result": results, "settings": resolved if desired else None,
            "source": source if desired else None, "missing_namespaces": missing,
            "diff": {"before": [d.get("before") for d in diffs if d], "after": [d.get("after") for d in diffs if d]}}


def apply_objects(cluster: Cluster, desired: list[dict], adopt: bool) -> tuple[bool, list[dict], list[dict]]:
    """Applies the desired policies and bindings, and deletes the collection's that are no longer needed. Only the
    collection's own (labelled) objects: another's of its names is refused before any change unless adopted, and
    left alone by a removal."""
    changed, results, diffs = False, [], []
    names = {o["metadata"]["name"] for o in desired}
    foreign = set()
    for name in POLICY_NAMES:
        for kind in ("ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy"):
            existing = cluster.get(API, kind, name)
            if existing is not None and not is_ours(existing):
                if name in names and not adopt:
                    raise ClusterError(refuse_foreign(kind, name))
                foreign.add((kind, name))
    for name in POLICY_NAMES:  # a policy no longer needed (no rules, or no namespaces or users rule): binding first
        if name not in names:
            for kind in ("ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy"):
                if (kind, name) in foreign:
                    cluster.task.warn(leave_foreign(kind, name))
                    continue
                c, d = cluster.delete(API, kind, name)
                changed |= c
                diffs.append(d)
    for obj in desired:  # each policy before its binding, whose paramRef the API server checks against it
        c, result, d = cluster.apply(obj)
        changed |= c
        results.append(result)
        diffs.append(d)
    return changed, results, diffs


def record(cluster: Cluster, runtime_class: dict, text: str | None) -> tuple[bool, list[dict]]:
    """Records the policy's settings on the collection's RuntimeClass, where a later run restores a policy deleted
    by hand from; None removes the record."""
    if annotation(runtime_class) == text:
        return False, []
    cluster.patch(RUNTIME_CLASS_API, "RuntimeClass", runtime_class["metadata"]["name"],
                  {"metadata": {"annotations": {SETTINGS_ANNOTATION: text}}})
    return True, [{"before": {"runtime_class": {SETTINGS_ANNOTATION: annotation(runtime_class)}},
                   "after": {"runtime_class": {SETTINGS_ANNOTATION: text}}}]


def warn_missing_namespaces(cluster: Cluster, resolved: dict) -> list[str]:
    """The allowed namespaces that do not exist, each with a warning: whoever creates one may run sandboxed pods."""
    if "namespaces" not in settings(resolved)["modes"]:
        return []
    missing = missing_namespaces(cluster, settings(resolved)["allowed_namespaces"])
    for name in missing:
        cluster.task.warn(f"sandboxed_containers_policy.allowed_namespaces: the namespace {name} does not "
                          "exist; whoever creates it may run sandboxed pods there. Create it now (or remove "
                          "the name), or label the namespaces instead")
    return missing


ARGUMENT_SPEC = {
    "policy": {"type": "dict", "options": POLICY_OPTIONS},
    "runtime_class_name": {"type": "str", "default": DEFAULT_RUNTIME_CLASS},
    "handler": {"type": "str", "default": DEFAULT_HANDLER},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "adopt": {"type": "bool", "default": False},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, ensure)


if __name__ == "__main__":
    main()
