"""OpenShift's SecurityContextConstraints admission, emulated with MutatingAdmissionPolicies.

On OpenShift the plugin security.openshift.io/SecurityContextConstraint
(openshift/apiserver-library-go, pkg/securitycontextconstraints/sccadmission/
admission.go, release-4.14 to release-4.21) picks an SCC for every new pod and
fills in the pod's security context from it. The local cluster emulates what
matters for the collection with the two SCCs every cluster has:

- the SCC: the one named by the pod annotation openshift.io/required-scc if
  any (admission.go listSortedSCCs, 4.14+); else anyuid (priority 10, sorted
  first by sccsort.ByPriority) when the requesting user or the pod's service
  account may `use` it (sccmatching/matcher.go ConstraintAppliesTo: a
  SubjectAccessReview in the pod's namespace); else restricted-v2, which
  every authenticated user may use;
- the user id: restricted-v2 is MustRunAsRange, so a container whose effective
  runAsUser is unset gets the first UID of the namespace's
  openshift.io/sa.scc.uid-range (sccmatching/provider.go
  CreateContainerSecurityContext, lines 151-162; user/mustrunasrange.go
  Generate); anyuid (RunAsAny) generates nothing;
- runAsNonRoot: set to true on a container whose effective runAsNonRoot is
  unset and whose resulting UID is > 0 (provider.go:179-193), under any SCC;
- the annotation openshift.io/scc names the SCC (admission.go, ValidatedSCCAnnotation).

Not emulated: SELinux, fsGroup, supplemental groups, capabilities, seccomp,
volumes and host features; the SCCs' own users/groups fields; refusals (a UID
out of the range, an SCC the user may not use or that does not exist, a
change of openshift.io/required-scc on update).

A second policy gives every new namespace the annotations OpenShift's
cluster-policy-controller allocates (here one fixed block, not a new one per
namespace); namespaces created before it was in place fall back to the same UID.
"""

from __future__ import annotations

MAP_API = "admissionregistration.k8s.io/v1beta1"
POD_POLICY = "local-cluster-scc-admission"
NAMESPACE_POLICY = "local-cluster-namespace-scc-annotations"

UID_RANGE = "openshift.io/sa.scc.uid-range"
SUPPLEMENTAL_GROUPS = "openshift.io/sa.scc.supplemental-groups"
MCS = "openshift.io/sa.scc.mcs"
REQUIRED_SCC = "openshift.io/required-scc"
SCC_ANNOTATION = "openshift.io/scc"

FIRST_UID = 1000680000
# What cluster-policy-controller writes on a namespace (a block of 10000 UIDs);
# one fixed block here, and a fixed MCS label.
NAMESPACE_ANNOTATIONS = {
    UID_RANGE: f"{FIRST_UID}/10000",
    SUPPLEMENTAL_GROUPS: f"{FIRST_UID}/10000",
    MCS: "s0:c26,c15",
}


def _may_use(scc: str) -> str:
    """CEL: the requesting user or the pod's service account may `use` the SCC in the pod's namespace."""
    check = (f".group('security.openshift.io').resource('securitycontextconstraints')"
             f".namespace(request.namespace).name('{scc}').check('use').allowed()")
    sa = "has(object.spec.serviceAccountName) ? object.spec.serviceAccountName : 'default'"
    return f"authorizer{check} || authorizer.serviceAccount(request.namespace, {sa}){check}"


def _containers(field: str) -> str:
    """CEL: the apply configuration entries of one container list (containers or initContainers).

    No cel.bind in the policy environment of 1.34, hence the repeated sub-expressions.
    """
    own_uid = "has(c.securityContext) && has(c.securityContext.runAsUser)"
    uid = f"({own_uid} ? optional.of(c.securityContext.runAsUser) : variables.podRunAsUser)"
    generate = f"(!{uid}.hasValue() && variables.generatedUid.hasValue())"
    effective = f"({uid}.hasValue() ? {uid} : variables.generatedUid)"
    non_root = (f"(!(has(c.securityContext) && has(c.securityContext.runAsNonRoot)) && !variables.podRunAsNonRootSet"
                f" && {effective}.hasValue() && {effective}.value() > 0)")
    entry = (f"Object.spec.{field}{{name: c.name, securityContext: Object.spec.{field}.securityContext{{"
             f"?runAsUser: {generate} ? variables.generatedUid : optional.none(), "
             f"?runAsNonRoot: {non_root} ? optional.of(true) : optional.none()}}}}")
    changed = f"object.spec.{field}.filter(c, {generate} || {non_root})"
    # Only the containers that change, and no list at all when none does.
    return (f"?{field}: has(object.spec.{field}) && size({changed}) > 0 ? "
            f"optional.of({changed}.map(c, {entry})) : optional.none()")


def pod_policy() -> dict:
    return {
        "apiVersion": MAP_API, "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": POD_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
            "variables": [
                {"name": "annotations", "expression":
                    "has(object.metadata.annotations) ? object.metadata.annotations : {}"},
                {"name": "nsAnnotations", "expression":
                    "has(namespaceObject.metadata.annotations) ? namespaceObject.metadata.annotations : {}"},
                {"name": "scc", "expression":
                    f"'{REQUIRED_SCC}' in variables.annotations ? variables.annotations['{REQUIRED_SCC}'] : "
                    f"(({_may_use('anyuid')}) ? 'anyuid' : 'restricted-v2')"},
                {"name": "firstUid", "expression":
                    f"'{UID_RANGE}' in variables.nsAnnotations ? "
                    f"int(variables.nsAnnotations['{UID_RANGE}'].split('/')[0]) : {FIRST_UID}"},
                # Only restricted-v2 (MustRunAsRange) generates a UID here.
                {"name": "generatedUid", "expression":
                    "variables.scc == 'restricted-v2' ? optional.of(variables.firstUid) : optional.none()"},
                {"name": "podRunAsUser", "expression":
                    "has(object.spec.securityContext) && has(object.spec.securityContext.runAsUser) ? "
                    "optional.of(object.spec.securityContext.runAsUser) : optional.none()"},
                {"name": "podRunAsNonRootSet", "expression":
                    "has(object.spec.securityContext) && has(object.spec.securityContext.runAsNonRoot)"},
            ],
            "mutations": [{
                "patchType": "ApplyConfiguration",
                "applyConfiguration": {"expression": (
                    f"Object{{metadata: Object.metadata{{annotations: {{'{SCC_ANNOTATION}': variables.scc}}}}, "
                    f"spec: Object.spec{{{_containers('containers')}, {_containers('initContainers')}}}}}")},
            }],
        },
    }


def namespace_policy() -> dict:
    values = ", ".join(f"'{k}': '{k}' in variables.annotations ? variables.annotations['{k}'] : '{v}'"
                       for k, v in NAMESPACE_ANNOTATIONS.items())
    return {
        "apiVersion": MAP_API, "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": NAMESPACE_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["namespaces"]}]},
            "variables": [{"name": "annotations", "expression":
                           "has(object.metadata.annotations) ? object.metadata.annotations : {}"}],
            "mutations": [{
                "patchType": "ApplyConfiguration",
                "applyConfiguration": {
                    "expression": f"Object{{metadata: Object.metadata{{annotations: {{{values}}}}}}}"},
            }],
        },
    }


def binding(policy: str) -> dict:
    return {
        "apiVersion": MAP_API, "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": policy},
        "spec": {"policyName": policy},
    }


def objects() -> list[dict]:
    """The policies and their bindings, in the order to apply them."""
    return [namespace_policy(), binding(NAMESPACE_POLICY), pod_policy(), binding(POD_POLICY)]


def _scc(name: str, priority: int | None, run_as_user: str, **extra: object) -> dict:
    return {"apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints",
            "metadata": {"name": name}, "priority": priority, "runAsUser": {"type": run_as_user},
            "seLinuxContext": {"type": "MustRunAs"}, "allowHostDirVolumePlugin": False, "allowHostIPC": False,
            "allowHostNetwork": False, "allowHostPID": False, "allowHostPorts": False,
            "allowPrivilegedContainer": False, "readOnlyRootFilesystem": False, "users": [],
            "allowedCapabilities": None, "defaultAddCapabilities": None,
            "volumes": ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                        "projected", "secret"], **extra}


def _use_role(scc: str) -> list[dict]:
    """The ClusterRole that grants `use` of an SCC, as OpenShift names it (system:openshift:scc:<name>)."""
    name = f"system:openshift:scc:{scc}"
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
             "rules": [{"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
                        "resourceNames": [scc], "verbs": ["use"]}]}]


def security_context_constraints() -> list[dict]:
    """The two SCCs the emulation chooses between, with the fields that decide the choice and the user id
    (as the cluster-kube-apiserver-operator's bootstrap SCCs of 4.14 to 4.21 have them: anyuid priority 10,
    RunAsAny, for system:cluster-admins; restricted-v2 no priority, MustRunAsRange, drop ALL, for every
    authenticated user through a ClusterRoleBinding), and the RBAC that lets users `use` them."""
    return [
        _scc("anyuid", 10, "RunAsAny", groups=["system:cluster-admins"], allowPrivilegeEscalation=True,
             requiredDropCapabilities=["MKNOD"], fsGroup={"type": "RunAsAny"},
             supplementalGroups={"type": "RunAsAny"}),
        _scc("restricted-v2", None, "MustRunAsRange", groups=[], allowPrivilegeEscalation=False,
             requiredDropCapabilities=["ALL"], allowedCapabilities=["NET_BIND_SERVICE"],
             seccompProfiles=["runtime/default"], fsGroup={"type": "MustRunAs"},
             supplementalGroups={"type": "RunAsAny"}),
        *_use_role("anyuid"),
        *_use_role("restricted-v2"),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:openshift:scc:restricted-v2"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:openshift:scc:restricted-v2"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]},
    ]
