# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Who may run sandboxed workloads: a ValidatingAdmissionPolicy and its binding, built as dicts.

Three rules, each optional, that combine:

- namespaces: only namespaces with a label (or listed by name) may run pods with the runtime class;
- users: only listed users, groups or service accounts may create or update workloads that use it;
- require: in namespaces with a label, every pod must use it (gating native runc containers).

Pods and the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs are
checked, so a workload is refused where it is created, not later when its controller creates pods. The
workload controllers create those pods with their own service accounts in kube-system; they are trusted
for the users rule (the workload itself was checked) but not for the others.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import json

from ansible_collections.sandboxed.containers.plugins.module_utils._objects import MANAGED_BY, VERSION_ANNOTATION
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import label_key_error, label_value_error
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION

POLICY_NAME = "sandboxed-containers-runtime-class"
# The settings the policy was built from, so that an upgrade can rebuild it without being given them again.
SETTINGS_ANNOTATION = "sandboxed.containers/policy"
MODES = ("namespaces", "users", "require")
ACTIONS = ("Deny", "Warn", "Audit")
# The service accounts kube-controller-manager runs the workload controllers as (--use-service-account-credentials,
# as on OpenShift): they create the pods of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs.
CONTROLLERS = tuple(f"system:serviceaccount:kube-system:{c}" for c in (
    "replicaset-controller", "deployment-controller", "statefulset-controller", "daemon-set-controller",
    "job-controller", "cronjob-controller", "generic-garbage-collector"))

DEFAULTS = {
    "modes": [],
    "validation_actions": ["Deny"],
    "allowed_namespace_label": "sandboxed-containers.openshift.io/allowed=true",
    "allowed_namespaces": [],
    "allowed_users": [],
    "allowed_groups": [],
    "allowed_service_accounts": [],
    "required_namespace_label": "sandboxed-containers.openshift.io/required=true",
    "trusted_users": list(CONTROLLERS),
}

# The policy option of the modules that take it (admission_policy, preflight); docs: the policy doc fragment.
POLICY_OPTIONS = {
    key: ({"type": "str", "default": value} if isinstance(value, str)
          else {"type": "list", "elements": "str", "default": list(value)})
    for key, value in DEFAULTS.items()
}

# The pod spec of each kind the policy checks.
POD_SPEC = (
    "object.kind == 'Pod' ? object.spec : "
    "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec"
)


class PolicyError(ValueError):
    """Invalid policy settings; the message says which and how to fix them."""


def _lit(values: list[str]) -> str:
    """A CEL list literal of strings (JSON string escapes are valid CEL)."""
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _label(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise PolicyError(f"sandboxed_containers_policy.{what} must be key=value, e.g. {DEFAULTS[what]}")
    err = label_key_error(key) or label_value_error(value)
    if err:
        raise PolicyError(f"sandboxed_containers_policy.{what}: {err}")
    return key, value


def _has_label(key: str, value: str) -> str:
    return (f"(has(namespaceObject.metadata.labels) && {json.dumps(key)} in namespaceObject.metadata.labels && "
            f"namespaceObject.metadata.labels[{json.dumps(key)}] == {json.dumps(value)})")


def settings(policy: dict | None) -> dict:
    """The policy settings with defaults, checked; raises PolicyError."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise PolicyError("sandboxed_containers_policy must be a mapping, e.g. {modes: [namespaces]}")
    unknown = sorted(set(policy) - set(DEFAULTS))
    if unknown:
        raise PolicyError(f"sandboxed_containers_policy has unknown keys {unknown}; known: {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **{k: v for k, v in policy.items() if v is not None}}
    bad = sorted(set(s["modes"]) - set(MODES))
    if bad:
        raise PolicyError(f"sandboxed_containers_policy.modes {bad} are not modes; use any of {list(MODES)}")
    actions = s["validation_actions"]
    if not actions or set(actions) - set(ACTIONS) or {"Deny", "Warn"} <= set(actions):
        raise PolicyError(
            "sandboxed_containers_policy.validation_actions must be [Deny], [Warn] or [Audit], or Deny or Warn "
            "with Audit (Deny and Warn do not combine)"
        )
    for key in ("allowed_namespaces", "allowed_users", "allowed_groups", "allowed_service_accounts", "trusted_users"):
        if not isinstance(s[key], list) or not all(isinstance(v, str) and v for v in s[key]):
            raise PolicyError(f"sandboxed_containers_policy.{key} must be a list of names")
    for sa in s["allowed_service_accounts"]:
        if sa.count("/") != 1 or not all(sa.split("/")):
            raise PolicyError(f"sandboxed_containers_policy.allowed_service_accounts: {sa!r} must be namespace/name")
    if "users" in s["modes"] and not (s["allowed_users"] or s["allowed_groups"] or s["allowed_service_accounts"]):
        raise PolicyError("the users mode needs allowed_users, allowed_groups or allowed_service_accounts; "
                          "otherwise nobody could run sandboxed workloads")
    s["_allowed_label"] = _label(s["allowed_namespace_label"], "allowed_namespace_label")
    s["_required_label"] = _label(s["required_namespace_label"], "required_namespace_label")
    return s


def validations(s: dict, runtime_class: str, verify_namespace: str | None) -> list[dict]:
    out = []
    # The collection's own verify pods (playbooks/verify.yml) run in their namespace, which only the
    # automation may write to (see the automation_access role).
    verify = [verify_namespace] if verify_namespace else []
    if "namespaces" in s["modes"]:
        key, value = s["_allowed_label"]
        out.append({
            "expression": f"!variables.usesRuntimeClass || {_has_label(key, value)} || "
                          f"namespaceObject.metadata.name in {_lit(s['allowed_namespaces'] + verify)}",
            "messageExpression": (
                f"'sandboxed-containers namespaces rule: namespace ' + namespaceObject.metadata.name + ' may not run "
                f"pods with runtime class {runtime_class}; ask a cluster administrator to label the namespace "
                f"{key}={value}'"
            ),
            "reason": "Forbidden",
        })
    if "users" in s["modes"]:
        users = [*s["allowed_users"], *(f"system:serviceaccount:{sa.replace('/', ':')}"
                                        for sa in s["allowed_service_accounts"])]
        out.append({
            "expression": (
                "!variables.usesRuntimeClass || "
                f"request.userInfo.username in {_lit(users + s['trusted_users'])} || "
                f"request.userInfo.groups.exists(g, g in {_lit(s['allowed_groups'])}) || "
                f"(object.kind == 'Pod' && namespaceObject.metadata.name in {_lit(verify)})"
            ),
            "messageExpression": (
                f"'sandboxed-containers users rule: ' + request.userInfo.username + ' may not create or update "
                f"workloads with runtime class {runtime_class}; ask a cluster administrator to add you to "
                "sandboxed_containers_policy.allowed_users or allowed_groups'"
            ),
            "reason": "Forbidden",
        })
    if "require" in s["modes"]:
        key, value = s["_required_label"]
        out.append({
            "expression": f"!{_has_label(key, value)} || variables.usesRuntimeClass",
            "messageExpression": (
                f"'sandboxed-containers require rule: namespace ' + namespaceObject.metadata.name + ' runs only "
                f"sandboxed pods; set runtimeClassName: {runtime_class} in the pod spec (or ask a cluster "
                f"administrator to remove the label {key}={value})'"
            ),
            "reason": "Forbidden",
        })
    return out


def objects(policy: dict | None, runtime_class: str, *, verify_namespace: str | None = None,
            version: str = COLLECTION_VERSION) -> list[dict]:
    """The policy and its binding; empty when no mode is enabled."""
    s = settings(policy)
    if not s["modes"]:
        return []
    given = {k: v for k, v in s.items() if not k.startswith("_")}
    meta = {"labels": dict(MANAGED_BY), "annotations": {
        VERSION_ANNOTATION: version, SETTINGS_ANNOTATION: json.dumps(given, sort_keys=True)}}
    workloads = ["deployments", "replicasets", "statefulsets", "daemonsets"]
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": POLICY_NAME, **meta},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [
                    # A pod's runtimeClassName cannot change after creation.
                    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]},
                    {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": workloads,
                     "operations": ["CREATE", "UPDATE"]},
                    {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs", "cronjobs"],
                     "operations": ["CREATE", "UPDATE"]},
                ]},
                "variables": [
                    {"name": "podSpec", "expression": POD_SPEC},
                    {"name": "usesRuntimeClass",
                     "expression": f"has(variables.podSpec.runtimeClassName) && "
                                   f"variables.podSpec.runtimeClassName == {json.dumps(runtime_class)}"},
                ],
                "validations": validations(s, runtime_class, verify_namespace),
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": POLICY_NAME, **meta},
            "spec": {"policyName": POLICY_NAME, "validationActions": list(s["validation_actions"])},
        },
    ]
