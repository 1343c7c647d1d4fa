# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Who may run sandboxed workloads: two ValidatingAdmissionPolicies and their bindings, built as dicts.

Three rules, each optional, that combine:

- namespaces: only namespaces with a label (or listed by name) may run pods with the runtime class;
- users: only listed users, groups or service accounts may create or update workloads that use it;
- require: in namespaces with a label, every pod must use it (gating native runc containers).

The policy C(sandboxed-containers-runtime-class) gates the collection's RuntimeClass by its name, whether it
exists yet or not (the install applies it before the RuntimeClass exists). The policy
C(sandboxed-containers-runtime-class-handler) has the RuntimeClasses as its parameters: the API server evaluates
it once per RuntimeClass, so the namespaces and users rules also gate every other RuntimeClass whose handler is
the collection's, including ones created later (by an administrator, or left behind by a rename).

Pods and the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
ReplicationControllers and DeploymentConfigs are checked, so a workload is refused where it is created, not
later when its controller creates pods. The workload controllers create those pods (and a DeploymentConfig's
ReplicationControllers) with their own service accounts; they are trusted for the users rule (the workload
itself was checked) but not for the others.

The collection's own verify pods pass the namespaces and users rules only when both hold: the requesting user
is a verify identity (by default whoever applied the policy: the automation), and the namespace carries the label
sandboxed.containers/verify=true, which on OpenShift only administrators can set (a project request has no
labels, and a project's admin cannot change its namespace's). Never by a namespace's name, which any user who may
request projects can take.

Every value placed in CEL is written by cel_string() as a CEL string literal.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import json
import re

from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    MANAGED_BY,
    RUNTIME_CLASS_API,
    VERSION_ANNOTATION,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import label_key_error, label_value_error
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION

API = "admissionregistration.k8s.io/v1"
POLICY_NAME = "sandboxed-containers-runtime-class"
HANDLER_POLICY_NAME = "sandboxed-containers-runtime-class-handler"
POLICY_NAMES = (POLICY_NAME, HANDLER_POLICY_NAME)
# The settings the policy was built from, on the policy and (the record that survives the policy's deletion) on
# the collection's RuntimeClass: install and upgrade rebuild or restore the policy from it.
SETTINGS_ANNOTATION = "sandboxed.containers/policy"
# The label of the verify namespace (set by the verify module and the automation_access role, never by a tenant).
VERIFY_LABEL = ("sandboxed.containers/verify", "true")
MODES = ("namespaces", "users", "require")
ACTIONS = ("Deny", "Warn", "Audit")
# The service accounts the workload controllers run as, which create the pods (or, for DeploymentConfigs, the
# ReplicationControllers) of workloads the policy has checked:
# - kube-controller-manager with --use-service-account-credentials (as on OpenShift), each controller as
#   kube-system:<name> from its ClientOrDie("<name>") in kubernetes cmd/kube-controller-manager/app
#   (apps.go, batch.go, core.go: "replication-controller" for ReplicationControllers, pkg/controller/replication;
#   "generic-garbage-collector" for orphans adopted back);
# - openshift-controller-manager's DeploymentConfig controller, which creates a DeploymentConfig's
#   ReplicationControllers as openshift-infra:deploymentconfig-controller (openshift/openshift-controller-manager,
#   the apps controllers' service account names). ReplicationControllers are reconciled by kube-controller-manager
#   on OpenShift 4, so there is no openshift-infra:replication-controller to trust.
CONTROLLERS = (
    *(f"system:serviceaccount:kube-system:{c}" for c in (
        "replicaset-controller", "deployment-controller", "statefulset-controller", "daemon-set-controller",
        "job-controller", "cronjob-controller", "replication-controller", "generic-garbage-collector")),
    "system:serviceaccount:openshift-infra:deploymentconfig-controller",
)

DEFAULTS: dict = {
    "modes": [],
    "validation_actions": ["Deny"],
    "allowed_namespace_label": "sandboxed-containers.openshift.io/allowed=true",
    "allowed_namespaces": [],
    "allowed_users": [],
    "allowed_groups": [],
    "allowed_service_accounts": [],
    "required_namespace_label": "sandboxed-containers.openshift.io/required=true",
    "trusted_users": list(CONTROLLERS),
    # None: the identity that applies the policy (see resolve()).
    "verify_users": None,
}
LIST_KEYS = ("modes", "validation_actions", "allowed_namespaces", "allowed_users", "allowed_groups",
             "allowed_service_accounts", "trusted_users", "verify_users")

# The policy option of the modules that take it (admission_policy, preflight); docs: the policy doc fragment. No
# defaults here: what the user gave is recorded as given, so a later version's defaults (new controllers to
# trust) apply to a policy rebuilt from the record.
POLICY_OPTIONS = {
    key: {"type": "list", "elements": "str"} if key in LIST_KEYS else {"type": "str"} for key in DEFAULTS
}

# The pod spec of each kind the policy checks.
POD_SPEC = (
    "object.kind == 'Pod' ? object.spec : "
    "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec"
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class PolicyError(ValueError):
    """Invalid policy settings; the message says which and how to fix them."""


def cel_string(value: str) -> str:
    """A CEL string literal of value, in CEL's own escapes (cel-go parser/unescape.go): quote and backslash
    escaped, printable ASCII as is, everything else as \\uXXXX or, outside the Basic Multilingual Plane,
    \\UXXXXXXXX. Never a surrogate pair, which CEL refuses ("invalid unicode code point")."""
    out = ['"']
    for ch in value:
        cp = ord(ch)
        if ch in "\"\\":
            out.append("\\" + ch)
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif 0xD800 <= cp <= 0xDFFF:
            raise PolicyError(f"{value!r} is not valid Unicode text (it has a lone surrogate)")
        elif cp <= 0xFFFF:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def cel_list(values: list[str]) -> str:
    """A CEL list literal of strings."""
    return "[" + ", ".join(cel_string(v) for v in values) + "]"


def cel_message(*parts: str) -> str:
    """A messageExpression: the odd parts are text, the even parts CEL expressions, joined with +."""
    return " + ".join(cel_string(p) if i % 2 == 0 else p for i, p in enumerate(parts) if p)


def runtime_class_name_error(name: object, what: str = "sandboxed_containers_runtime_class_name") -> str | None:
    """Why a RuntimeClass name is invalid (Kubernetes: a DNS subdomain), or None."""
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return (f"{what} {name!r} must be a DNS subdomain (lowercase letters, digits, '-' and '.', at most 253 "
                "characters, beginning and ending with a letter or digit), for example kata")
    return None


def handler_error(handler: object, what: str = "sandboxed_containers_handler") -> str | None:
    """Why a CRI-O handler name is invalid (Kubernetes: a DNS label), or None."""
    if not isinstance(handler, str) or len(handler) > 63 or not _DNS_LABEL.match(handler):
        return (f"{what} {handler!r} must be a DNS label (lowercase letters, digits and '-', at most 63 "
                "characters), for example kata")
    return None


def _label(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise PolicyError(f"sandboxed_containers_policy.{what} must be key=value, e.g. {DEFAULTS[what]}")
    err = label_key_error(key) or label_value_error(value)
    if err:
        raise PolicyError(f"sandboxed_containers_policy.{what}: {err}")
    return key, value


def _has_label(key: str, value: str) -> str:
    return (f"(has(namespaceObject.metadata.labels) && {cel_string(key)} in namespaceObject.metadata.labels && "
            f"namespaceObject.metadata.labels[{cel_string(key)}] == {cel_string(value)})")


def _text(value: str, what: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PolicyError(f"sandboxed_containers_policy.{what}: {value!r} is not valid Unicode text") from None


def given(policy: dict | None) -> dict:
    """The settings the user gave (without the unset ones)."""
    return {k: v for k, v in (policy or {}).items() if v is not None}


def settings(policy: dict | None) -> dict:
    """The policy settings with defaults, checked; raises PolicyError."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise PolicyError("sandboxed_containers_policy must be a mapping, e.g. {modes: [namespaces]}")
    unknown = sorted(set(policy) - set(DEFAULTS))
    if unknown:
        raise PolicyError(f"sandboxed_containers_policy has unknown keys {unknown}; known: {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **given(policy)}
    for key in LIST_KEYS:
        if s[key] is not None and (not isinstance(s[key], list) or not all(isinstance(v, str) and v for v in s[key])):
            raise PolicyError(f"sandboxed_containers_policy.{key} must be a list of names")
        for v in s[key] or []:
            _text(v, key)
    for key in ("allowed_namespace_label", "required_namespace_label"):
        if not isinstance(s[key], str):
            raise PolicyError(f"sandboxed_containers_policy.{key} must be key=value, e.g. {DEFAULTS[key]}")
    bad = sorted(set(s["modes"]) - set(MODES))
    if bad:
        raise PolicyError(f"sandboxed_containers_policy.modes {bad} are not modes; use any of {list(MODES)}")
    actions = s["validation_actions"]
    if not actions or set(actions) - set(ACTIONS) or {"Deny", "Warn"} <= set(actions):
        raise PolicyError(
            "sandboxed_containers_policy.validation_actions must be [Deny], [Warn] or [Audit], or Deny or Warn "
            "with Audit (Deny and Warn do not combine)"
        )
    for ns in s["allowed_namespaces"]:
        if len(ns) > 63 or not _DNS_LABEL.match(ns):
            raise PolicyError(f"sandboxed_containers_policy.allowed_namespaces: {ns!r} is not a namespace name "
                              "(a DNS label: lowercase letters, digits and '-')")
    for sa in s["allowed_service_accounts"]:
        if sa.count("/") != 1 or not all(sa.split("/")):
            raise PolicyError(f"sandboxed_containers_policy.allowed_service_accounts: {sa!r} must be namespace/name")
    if "users" in s["modes"] and not (s["allowed_users"] or s["allowed_groups"] or s["allowed_service_accounts"]):
        raise PolicyError("the users mode needs allowed_users, allowed_groups or allowed_service_accounts; "
                          "otherwise nobody could run sandboxed workloads")
    s["_allowed_label"] = _label(s["allowed_namespace_label"], "allowed_namespace_label")
    s["_required_label"] = _label(s["required_namespace_label"], "required_namespace_label")
    return s


def resolve(policy: dict | None, applier: str | None) -> dict:
    """The settings to build and record: those given, checked, with verify_users defaulted to the identity that
    applies the policy (so that a later run as someone else, from the record, keeps it)."""
    out = given(policy)
    s = settings(out)
    if s["modes"] and s["verify_users"] is None:
        out["verify_users"] = [applier] if applier else []
    return out


def check_names(runtime_class: str, handler: str) -> None:
    """The names placed in the policy, checked before anything changes; raises PolicyError."""
    err = runtime_class_name_error(runtime_class) or handler_error(handler)
    if err:
        raise PolicyError(err)


def validations(s: dict, runtime_class: str) -> list[dict]:
    """The rules of either policy; runtime_class is a CEL expression that names the runtime class in messages."""
    out = []
    if "namespaces" in s["modes"]:
        key, value = s["_allowed_label"]
        out.append({
            "expression": f"!variables.usesRuntimeClass || {_has_label(key, value)} || "
                          f"namespaceObject.metadata.name in {cel_list(s['allowed_namespaces'])} || "
                          "variables.verifyPod",
            "messageExpression": cel_message(
                "sandboxed-containers namespaces rule: namespace ", "namespaceObject.metadata.name",
                " may not run pods with runtime class ", runtime_class,
                f"; ask a cluster administrator to label the namespace {key}={value}"),
            "reason": "Forbidden",
        })
    if "users" in s["modes"]:
        users = [*s["allowed_users"], *(f"system:serviceaccount:{sa.replace('/', ':')}"
                                        for sa in s["allowed_service_accounts"])]
        out.append({
            "expression": (
                "!variables.usesRuntimeClass || "
                f"request.userInfo.username in {cel_list(users + s['trusted_users'])} || "
                f"request.userInfo.groups.exists(g, g in {cel_list(s['allowed_groups'])}) || "
                "variables.verifyPod || variables.templateUnchanged"
            ),
            "messageExpression": cel_message(
                "sandboxed-containers users rule: ", "request.userInfo.username",
                " may not create or update workloads with runtime class ", runtime_class,
                "; ask a cluster administrator to add you to sandboxed_containers_policy.allowed_users or "
                "allowed_groups"),
            "reason": "Forbidden",
        })
    return out


def _require(s: dict, runtime_class: str) -> dict:
    key, value = s["_required_label"]
    return {
        "expression": f"!{_has_label(key, value)} || variables.usesRuntimeClass",
        "messageExpression": cel_message(
            "sandboxed-containers require rule: namespace ", "namespaceObject.metadata.name",
            f" runs only sandboxed pods; set runtimeClassName: {runtime_class} in the pod spec (or ask a cluster "
            f"administrator to remove the label {key}={value})"),
        "reason": "Forbidden",
    }


def _variables(s: dict, uses: str) -> list[dict]:
    verify_key, verify_value = VERIFY_LABEL
    verify_users = s["verify_users"] or []
    return [
        {"name": "podSpec", "expression": POD_SPEC},
        {"name": "usesRuntimeClass", "expression": uses},
        # The collection's verify pods: made by a verify identity in a namespace only administrators can label.
        {"name": "verifyPod", "expression": (
            f"object.kind == 'Pod' && request.userInfo.username in {cel_list(verify_users)} && "
            f"{_has_label(verify_key, verify_value)}") if verify_users else "false"},
        # A ReplicationController whose pod template is unchanged (scaled, annotated): a DeploymentConfig's
        # deployer pod does that as the project's own deployer service account; the template was checked.
        {"name": "templateUnchanged", "expression": (
            "request.operation == 'UPDATE' && object.kind == 'ReplicationController' && "
            "oldObject.spec.template == object.spec.template")},
    ]


def _match() -> dict:
    workloads = ["deployments", "replicasets", "statefulsets", "daemonsets"]
    both = ["CREATE", "UPDATE"]
    return {"resourceRules": [
        # A pod's runtimeClassName cannot change after creation.
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]},
        {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["replicationcontrollers"], "operations": both},
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": workloads, "operations": both},
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs", "cronjobs"], "operations": both},
        # Served by openshift-apiserver on OpenShift; a rule for a resource that is not served matches nothing.
        {"apiGroups": ["apps.openshift.io"], "apiVersions": ["v1"], "resources": ["deploymentconfigs"],
         "operations": both},
    ]}


def objects(policy: dict | None, runtime_class: str, handler: str = "kata", *,
            version: str = COLLECTION_VERSION) -> list[dict]:
    """The policies and their bindings (the handler policy only for the namespaces and users rules); empty when no
    mode is enabled. policy: the settings as resolve() returns them."""
    check_names(runtime_class, handler)
    s = settings(policy)
    if not s["modes"]:
        return []
    meta = {"labels": dict(MANAGED_BY), "annotations": {
        VERSION_ANNOTATION: version, SETTINGS_ANNOTATION: json.dumps(given(policy), sort_keys=True)}}
    uses_own = (f"has(variables.podSpec.runtimeClassName) && "
                f"variables.podSpec.runtimeClassName == {cel_string(runtime_class)}")
    rules = validations(s, cel_string(runtime_class))
    if "require" in s["modes"]:
        rules.append(_require(s, runtime_class))
    out = [
        {
            "apiVersion": API,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": POLICY_NAME, **meta},
            "spec": {"failurePolicy": "Fail", "matchConstraints": _match(), "variables": _variables(s, uses_own),
                     "validations": rules},
        },
        binding(POLICY_NAME, s["validation_actions"], meta),
    ]
    handler_rules = validations(s, "params.metadata.name")
    if handler_rules:
        # Every other RuntimeClass with the handler: evaluated once per RuntimeClass (the binding selects them
        # all); a cluster without any RuntimeClass has nothing to gate (parameterNotFoundAction Allow).
        uses_other = (f"params.handler == {cel_string(handler)} && params.metadata.name != "
                      f"{cel_string(runtime_class)} && has(variables.podSpec.runtimeClassName) && "
                      "variables.podSpec.runtimeClassName == params.metadata.name")
        out += [
            {
                "apiVersion": API,
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": HANDLER_POLICY_NAME, **meta},
                "spec": {"failurePolicy": "Fail",
                         "paramKind": {"apiVersion": RUNTIME_CLASS_API, "kind": "RuntimeClass"},
                         "matchConstraints": _match(), "variables": _variables(s, uses_other),
                         "validations": handler_rules},
            },
            binding(HANDLER_POLICY_NAME, s["validation_actions"], meta,
                    {"selector": {}, "parameterNotFoundAction": "Allow"}),
        ]
    return out


def binding(name: str, actions: list[str], meta: dict, param_ref: dict | None = None) -> dict:
    spec: dict = {"policyName": name, "validationActions": list(actions)}
    if param_ref:
        spec["paramRef"] = param_ref
    return {"apiVersion": API, "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name, **meta},
            "spec": spec}
