# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)


class ModuleDocFragment:
    """The rules of the admission policy: applied by admission_policy, checked early by preflight."""

    DOCUMENTATION = r"""
options:
  policy:
    description:
      - The rules of the admission policy for the runtime class; see docs/security.md.
    type: dict
    suboptions:
      modes:
        description: Any of V(namespaces), V(users) and V(require).
        type: list
        elements: str
        default: []
      validation_actions:
        description: V([Deny]), V([Warn]) or V([Audit]); Deny or Warn may be combined with Audit.
        type: list
        elements: str
        default: [Deny]
      allowed_namespace_label:
        description: C(key=value) label that lets a namespace run sandboxed pods (namespaces rule).
        type: str
        default: sandboxed-containers.openshift.io/allowed=true
      allowed_namespaces:
        description: Namespaces that may run sandboxed pods without the label (namespaces rule).
        type: list
        elements: str
        default: []
      allowed_users:
        description: Users who may create workloads with the runtime class (users rule).
        type: list
        elements: str
        default: []
      allowed_groups:
        description: Groups whose members may (users rule).
        type: list
        elements: str
        default: []
      allowed_service_accounts:
        description: Service accounts, as C(namespace/name), that may (users rule).
        type: list
        elements: str
        default: []
      required_namespace_label:
        description: C(key=value) label of namespaces that must run every pod sandboxed (require rule).
        type: str
        default: sandboxed-containers.openshift.io/required=true
      trusted_users:
        description: Users always allowed by the users rule; by default the service accounts of the workload
          controllers in C(kube-system), which create the pods of checked workloads.
        type: list
        elements: str
        default:
          - system:serviceaccount:kube-system:replicaset-controller
          - system:serviceaccount:kube-system:deployment-controller
          - system:serviceaccount:kube-system:statefulset-controller
          - system:serviceaccount:kube-system:daemon-set-controller
          - system:serviceaccount:kube-system:job-controller
          - system:serviceaccount:kube-system:cronjob-controller
          - system:serviceaccount:kube-system:generic-garbage-collector
"""
