#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: pool_wait
short_description: Wait until MachineConfigPools have really rolled out a change, or fail fast
version_added: 1.0.0
description:
  - Waits until every pool in O(pools) has converged for the change, watching the API (one list and one watch
    per kind, re-established when the server ends a watch or the API server restarts), not polling.
  - "A pool is converged only when all of these hold: C(spec.configuration.source) lists O(machine_config)
    (or no longer lists it, with O(present=false)); the rendered config it targets carries that MachineConfig's
    current files and extensions (or lacks them); C(status.observedGeneration) equals C(metadata.generation);
    C(status.configuration.name) equals C(spec.configuration.name); C(Updated=True), C(Updating=False),
    C(Degraded=False); C(machineCount), C(updatedMachineCount) and C(readyMachineCount) equal the number of nodes
    in the pool and none is degraded; and every node of the pool runs the target config in state C(Done)."
  - This is never fooled by the few seconds after a MachineConfig change in which the MCO still reports
    C(Updated=True) for the old config, nor by pool counts that lag behind a node label change.
  - Fails within seconds when a pool is C(RenderDegraded), C(NodeDegraded) or C(Degraded), or a node of it is
    C(Degraded), naming the nodes and the reasons the MCO reports. A paused pool fails too, since it would not
    progress.
  - "Fails when a node of the rollout stays NotReady longer than O(reboot_timeout) during its update. Nothing on
    such a node can report: when CRI-O refuses its configuration after the reboot, the kubelet cannot start, the
    machine-config daemon (a pod) never runs, and the MCO never marks the node or the pool Degraded."
  - "Runs on the controller, so progress lines such as C(kata-oc: 2/5 updated; worker-3 Working) appear in the
    output as they happen, in AWX job logs too. The connection is taken whole from one source, as by every
    module of the collection: the task's options when any is set, else the controller's C(K8S_AUTH_*)
    environment, else the default kubeconfig; never mixed."
  - In check mode it does not wait.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  pools:
    description: The pools to wait for.
    type: list
    elements: str
    required: true
  machine_config:
    description: The MachineConfig whose rollout to wait for. Without it, the wait is for the pools to settle.
    type: str
  present:
    description: V(false) waits for the MachineConfig's removal to roll out instead.
    type: bool
    default: true
  absent_from:
    description: More pools to wait for, which must converge without the MachineConfig, in the same wait;
      for example the worker pool that nodes return to when they leave a custom pool.
    type: list
    elements: str
    default: []
  phase:
    description:
      - V(rolled_out) waits until every node runs the new config.
      - V(rendered) only until the pools target a rendered config with the change, which takes no node time;
        the collection uses it before moving nodes into a new custom pool, so that they reboot only once.
    type: str
    choices: [rendered, rolled_out]
    default: rolled_out
  timeout:
    description:
      - Seconds to wait. V(0) sizes it from the rollout, 10 minutes plus 15 minutes per batch of
        C(maxUnavailable) nodes of the largest pool.
      - On timeout the rollout goes on in the cluster; running again keeps waiting.
    type: int
    default: 0
  progress_interval:
    description: Seconds between repeated progress lines while nothing changes.
    type: int
    default: 60
  reboot_timeout:
    description:
      - Seconds a node that is being updated may stay NotReady (rebooting) before the wait fails, naming it and
        the likely cause. V(0) never fails for that reason.
      - A reboot takes a few minutes on cloud VMs and up to an hour on some bare-metal servers; raise it for
        those.
    type: int
    default: 900
  label_ready:
    description:
      - Nodes to label C(sandboxed.containers/handler=<handler>), each as soon as it is ready for sandboxed pods,
        while the rollout goes on. Ready means Ready, its machine-config daemon C(Done) on a rendered config that
        carries O(machine_config), and, where the API server has C(node.status.runtimeHandlers) (OpenShift 4.17 and
        later), the handler reported by the kubelet. The RuntimeClass selects that label, so sandboxed pods start
        on the first finished node and never on a node without the handler.
      - Each labelled node is also annotated C(sandboxed.containers/ready-since) with the time (UTC).
      - Nodes that already carry the label are left as they are. Only with O(present=true).
    type: list
    elements: str
    default: []
  handler:
    description: The CRI-O runtime handler, the label's value. Required with O(label_ready).
    type: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
attributes:
  check_mode:
    support: full
    details: It does not wait in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
  action:
    description: Has a corresponding action plugin, which does the work on the controller.
    support: full
    details: The wait runs on the controller, not on the target host.
"""

EXAMPLES = r"""
- name: Wait for the kata-oc pool to run the new config on every node
  sandboxed.containers.pool_wait:
    pools: [kata-oc]
    machine_config: 50-sandboxed-containers

- name: Wait for nodes returning to the worker pool without our MachineConfig
  sandboxed.containers.pool_wait:
    pools: [worker]
    machine_config: 50-sandboxed-containers
    present: false
"""

RETURN = r"""
pools:
  description: Per pool, its rendered config, machine count, updated nodes and nodes still working.
  returned: always
  type: dict
  sample: {"kata-oc": {"pool": "kata-oc", "rendered_config": "rendered-kata-oc-1a2b", "machine_count": 2,
           "updated_nodes": 2, "working_nodes": []}}
elapsed:
  description: Seconds waited.
  returned: always
  type: float
api_requests:
  description: API requests made by the wait (lists, watches and reads).
  returned: always
  type: int
state:
  description: V(converged), V(failed) or V(timeout).
  returned: always
  type: str
ready_nodes:
  description: The nodes this wait labelled ready for sandboxed pods, with the time each became ready (UTC).
  returned: always
  type: dict
  sample: {"worker-0": "2026-11-28T09:00:00Z"}
"""

# The options the action plugin (plugins/action/pool_wait.py) validates the task against, besides kubernetes.core's
# auth options: the wait runs on the controller, and this file holds no code that runs in a module process.
ARGUMENT_SPEC = {
    "pools": {"type": "list", "elements": "str", "required": True},
    "machine_config": {"type": "str"},
    "present": {"type": "bool", "default": True},
    "absent_from": {"type": "list", "elements": "str", "default": []},
    "phase": {"type": "str", "choices": ["rendered", "rolled_out"], "default": "rolled_out"},
    "timeout": {"type": "int", "default": 0},
    "progress_interval": {"type": "int", "default": 60},
    "reboot_timeout": {"type": "int", "default": 900},
    "label_ready": {"type": "list", "elements": "str", "default": []},
    "handler": {"type": "str"},
}
