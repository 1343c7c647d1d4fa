#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: doctor_info
short_description: Recognise stuck states of sandboxed containers, with the evidence and the fix
version_added: 1.0.0
description:
  - Reads the cluster and reports each stuck state it recognises as a finding with an C(id), a C(severity)
    (V(error) or V(warning)), the C(subject) (node, pod, pool, object), the C(evidence) it saw and the C(fix).
  - V(drain-held) a node's drain (the MCO asked for it and it is not done) held by a PodDisruptionBudget, naming
    the pod and the budget; V(node-degraded) a node whose machine-config daemon is Degraded, with its reason;
    V(node-not-ready-after-reboot) a node that went down for its update's reboot and has been NotReady longer than
    O(reboot_timeout); V(node-in-two-custom-pools) a node that the nodeSelectors of two custom pools match (the MCO
    updates it with neither); V(pool-paused) a paused pool (V(error) when nodes are behind its rendered config,
    V(warning) otherwise).
  - V(pod-terminating-without-handler) a pod of a runtime class past its deletion time on a node that no longer has
    the handler (or whose RuntimeClass is gone); V(kataconfig) a KataConfig (the OpenShift sandboxed containers
    operator manages the cluster); V(kata-leftover) what the operator or kata-deploy left (a MachineConfig with the
    extension or the handler, the operator's ContainerRuntimeConfig, kata-deploy's node labels or RuntimeClasses);
    V(policy-not-in-force) an admission policy that was installed and is not in force now;
    V(runtime-class-without-handler) a RuntimeClass of the handler whose scheduling lets pods onto nodes without it.
  - Changes nothing; it reads with the automation identity's rights (the P(sandboxed.containers.automation_access#role)
    role's ClusterRole).
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  runtime_class_name:
    description: Name of the collection's RuntimeClass, whose annotation records the admission policy.
    type: str
    default: kata
  handler:
    description: The CRI-O handler; the RuntimeClasses with it are checked against the nodes that have it.
    type: str
    default: kata
  reboot_timeout:
    description: Seconds a node may stay NotReady in its update's reboot before it is a finding.
    type: int
    default: 900
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
- name: Look for stuck states
  sandboxed.containers.doctor_info:
  register: doctor

- name: Fail on any error
  ansible.builtin.assert:
    that: doctor.counts.error == 0
    fail_msg: "{{ doctor.findings | selectattr('severity', 'equalto', 'error') | map(attribute='evidence') | list }}"
"""

RETURN = r"""
findings:
  description: What was found, errors first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The diagnosis, one of V(drain-held), V(node-degraded), V(node-not-ready-after-reboot),
        V(node-in-two-custom-pools), V(pool-paused), V(pod-terminating-without-handler), V(kataconfig),
        V(kata-leftover), V(policy-not-in-force), V(runtime-class-without-handler).
      type: str
    severity:
      description: V(error) (it does not resolve by itself) or V(warning).
      type: str
    subject:
      description: What it is about, for example C(node worker-1) or C(RuntimeClass other).
      type: str
    evidence:
      description: What the doctor saw, naming the objects.
      type: str
    fix:
      description: What to do, with the commands.
      type: str
  sample:
    - id: drain-held
      severity: error
      subject: node worker-1
      evidence: "the MCO drains worker-1 for its update (machineconfiguration.openshift.io/desiredDrain
        drain-rendered-kata-oc-1a2b) and the Eviction API refuses to evict pod shop/web-5d9c-x2v:
        PodDisruptionBudget shop/web allows no disruption now"
      fix: "let the budget allow one disruption: ..."
counts:
  description: Number of findings per severity.
  returned: success
  type: dict
  sample: {"error": 1, "warning": 0}
healthy:
  description: Whether there is no finding of severity V(error).
  returned: success
  type: bool
"""

import time

from ansible_collections.sandboxed.containers.plugins.module_utils._doctor import Facts, diagnose, summary
from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, optional_list, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_HANDLER,
    DEFAULT_RUNTIME_CLASS,
    MC_API,
    ROLE_LABEL,
    RUNTIME_CLASS_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import API as POLICY_API
from ansible_collections.sandboxed.containers.plugins.module_utils._status import policy_state, policy_summary


def read_policy(cluster: Cluster, rc: dict | None) -> dict:
    """The admission policy as status reports it (its names only: the automation may read no other)."""
    record, installed = policy_state(cluster.serves(POLICY_API, "ValidatingAdmissionPolicy"),
                                     lambda kind, name: cluster.get(POLICY_API, kind, name), rc)
    return policy_summary(record, installed, [])


def read_facts(cluster: Cluster) -> Facts:
    p = cluster.task.params
    runtime_classes = cluster.list(RUNTIME_CLASS_API, "RuntimeClass")
    rc = next((x for x in runtime_classes if x["metadata"]["name"] == p["runtime_class_name"]), None)
    return Facts(
        nodes=cluster.list("v1", "Node"),
        pools=cluster.list(MC_API, "MachineConfigPool"),
        now=time.time(),
        pods=cluster.list("v1", "Pod"),
        budgets=cluster.list("policy/v1", "PodDisruptionBudget"),
        # The rendered configs carry no role label: the selector leaves them (and their size) out.
        machine_configs=cluster.list(MC_API, "MachineConfig", label_selector=ROLE_LABEL),
        kataconfigs=[k["metadata"]["name"] for k in optional_list(cluster, "kataconfiguration.openshift.io/v1",
                                                                  "KataConfig")],
        container_runtime_configs=optional_list(cluster, MC_API, "ContainerRuntimeConfig"),
        runtime_classes=runtime_classes,
        policy=read_policy(cluster, rc),
        handler=p["handler"],
        reboot_timeout=p["reboot_timeout"],
    )


def doctor(cluster: Cluster) -> dict:
    findings = diagnose(read_facts(cluster))
    counts = summary(findings)
    return {"changed": False, "findings": findings, "counts": counts, "healthy": counts["error"] == 0}


ARGUMENT_SPEC = {
    "runtime_class_name": {"type": "str", "default": DEFAULT_RUNTIME_CLASS},
    "handler": {"type": "str", "default": DEFAULT_HANDLER},
    "reboot_timeout": {"type": "int", "default": 900},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, doctor)


if __name__ == "__main__":
    main()
