# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)


class ModuleDocFragment:
    """The rules of the admission policy: applied by admission_policy, checked early by preflight."""

    # No option has a default in the argument spec: the settings given are recorded as given, so that a policy
    # rebuilt from its record by a later version gets that version's defaults (the descriptions name them).
    DOCUMENTATION = r"""
options:
  policy:
    description:
      - The rules of the admission policy for the runtime class; see docs/security.md.
      - Unset suboptions take the defaults their descriptions name.
    type: dict
    suboptions:
      modes:
        description: Any of V(namespaces), V(users) and V(require). Unset, V([]), no policy.
        type: list
        elements: str
      validation_actions:
        description: V([Deny]), V([Warn]) or V([Audit]); Deny or Warn may be combined with Audit. Unset, V([Deny]).
        type: list
        elements: str
      allowed_namespace_label:
        description: C(key=value) label that lets a namespace run sandboxed pods (namespaces rule). Unset,
          V(sandboxed-containers.openshift.io/allowed=true).
        type: str
      allowed_namespaces:
        description:
          - Namespaces that may run sandboxed pods without the label (namespaces rule).
          - A name that does not exist is warned about, at install and in the status. On OpenShift every user
            may request a project, so whoever creates it first may run sandboxed pods there. Prefer the label.
        type: list
        elements: str
      allowed_users:
        description: Users who may create workloads with the runtime class (users rule).
        type: list
        elements: str
      allowed_groups:
        description: Groups whose members may (users rule).
        type: list
        elements: str
      allowed_service_accounts:
        description: Service accounts, as C(namespace/name), that may (users rule).
        type: list
        elements: str
      required_namespace_label:
        description: C(key=value) label of namespaces that must run every pod sandboxed (require rule). Unset,
          V(sandboxed-containers.openshift.io/required=true).
        type: str
      trusted_users:
        description:
          - Users always allowed by the users rule, because they create the pods of workloads the rule has checked.
          - "Unset, the workload controllers: C(system:serviceaccount:kube-system:) followed by
            C(replicaset-controller), C(deployment-controller), C(statefulset-controller), C(daemon-set-controller),
            C(job-controller), C(cronjob-controller), C(replication-controller) and C(generic-garbage-collector);
            and C(system:serviceaccount:openshift-infra:deploymentconfig-controller), which creates a
            DeploymentConfig's ReplicationControllers."
        type: list
        elements: str
      verify_users:
        description:
          - Users whose pods pass the namespaces and users rules in a namespace labelled
            C(sandboxed.containers/verify=true) (the collection's verify pods; the label is set by the verify module
            and the C(automation_access) role, and only administrators can set it on OpenShift).
          - Unset, the identity that applies the policy (the automation), found with a SelfSubjectReview and
            recorded. V([]) lets no pod through.
        type: list
        elements: str
"""
