#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check a cluster and settings before any change, and plan the change
version_added: 1.0.0
description:
  - Reads the cluster and never changes it. Fails with a message that says what is wrong and how to fix it
    when the change cannot be made, so that nothing is left half-done.
  - "Checks: the settings (label selector, pool name, overhead quantities, maxUnavailable, the canary and the wave
    size against the chosen nodes); the CRI-O drop-in, key
    by key, against the CRI-O the chosen nodes run (C(nodeInfo.containerRuntimeVersion)): known keys, right
    types, absolute paths, allowed annotations; the API server is reachable and serves
    C(machineconfiguration.openshift.io/v1); no KataConfig exists (the OpenShift sandboxed containers operator
    would manage the cluster), and nothing it or kata-deploy left behind would conflict (another MachineConfig
    with the extension or the handler, the operator's ContainerRuntimeConfig, kata-deploy's node labels or
    RuntimeClasses); the selector matches at least one worker; the chosen nodes' architecture has the extension
    (x86_64 and s390x) and their operating system names it (RHCOS and SCOS V(sandboxed-containers), Fedora
    CoreOS V(kata-containers)); they are virtualization-capable where Node Feature Discovery labelled them; no
    pool the change touches is built with on-cluster image layering, degraded or paused by someone else (a pool
    the collection paused is its own, see O(rollout)); the rules of the
    admission policy (O(policy)), which are applied later in the run, and that the cluster serves
    ValidatingAdmissionPolicy (OpenShift 4.17 and later) when the policy has rules."
  - "Decides the target: the worker pool when O(node_selector) is empty, a custom pool O(pool_name) for the
    matching workers otherwise, and the master pool on compact and single-node clusters, where the worker
    pool has no machines."
  - Returns the plan, in particular the nodes that will reboot and why, computed from the rendered configs the MCO
    will produce for every pool (the order of extensions included), so that check mode can show it.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  operation:
    description:
      - The change to plan. V(install) and V(upgrade) plan the desired state (V(upgrade) needs an installation).
      - V(uninstall) plans the removal and refuses while pods use the runtime class, unless O(force=true).
    type: str
    choices: [install, upgrade, uninstall]
    default: install
  node_selector:
    description:
      - A Kubernetes label selector (C(matchLabels) and/or C(matchExpressions) with V(In), V(NotIn),
        V(Exists), V(DoesNotExist)) choosing the workers that get sandboxed containers.
      - Empty means every worker, through the worker pool itself.
    type: dict
    default: {}
  pool_name:
    description: Name of the custom pool used when O(node_selector) is not empty.
    type: str
    default: kata-oc
  runtime_class_name:
    description: Name of the RuntimeClass.
    type: str
    default: kata
  handler:
    description: The CRI-O runtime handler.
    type: str
    default: kata
  overhead:
    description: The pod overhead of the RuntimeClass, as Kubernetes quantities.
    type: dict
    default: {cpu: 250m, memory: 350Mi}
  crio_dropin:
    description:
      - The CRI-O drop-in content, checked and used to plan which nodes reboot.
        Required for O(operation=install) and O(operation=upgrade).
      - It must hold exactly the table C([crio.runtime.runtimes.<handler>]), with keys CRI-O's runtime handler has
        in the CRI-O the chosen nodes run and values of their types; anything else is refused before any change.
    type: str
  allow_non_vm_runtime:
    description: Accept a C(runtime_type) other than V(vm) in O(crio_dropin); such a handler runs the runtime
      class's pods as plain containers on the node's kernel.
    type: bool
    default: false
  tolerations:
    description: Tolerations of the RuntimeClass, to plan its change.
    type: list
    elements: dict
    default: []
  force:
    description: With O(operation=uninstall), go on although pods in phase C(Pending), C(Running) or C(Unknown)
      use the runtime class.
    type: bool
    default: false
  allow_downgrade:
    description: Allow replacing objects written by a newer version of the collection.
    type: bool
    default: false
  max_unavailable:
    description: maxUnavailable of the custom pool, a number of nodes or a percentage such as V(25%).
    type: raw
  virtualization_check:
    description: What to do when a chosen node is not virtualization-capable according to its NFD labels.
    type: str
    choices: [fail, warn, ignore]
    default: fail
  unsupported_architecture:
    description:
      - What to do with chosen nodes whose architecture has no sandboxed-containers extension (it is built for
        x86_64 and s390x only).
      - V(fail) refuses. V(exclude) leaves them out of the custom pool with a warning; on the worker pool no node
        can be left out, so it refuses there too and says how to choose nodes.
    type: str
    choices: [fail, exclude]
    default: fail
  machine_config_name:
    description: Name of the collection's MachineConfig.
    type: str
    default: 50-sandboxed-containers
  adopt:
    description:
      - The collection acts only on objects that carry its label C(app.kubernetes.io/managed-by=sandboxed.containers).
        A RuntimeClass, MachineConfigPool, MachineConfig or admission policy of its names without it (the
        operator's, an administrator's) makes an install or upgrade refuse, naming each, before anything changes.
      - V(true) takes them over instead; the install labels them as its own (and a later uninstall deletes them).
      - An uninstall never deletes them, whatever this says; it leaves them alone and names them in RV(messages).
    type: bool
    default: false
  canary:
    description:
      - How many chosen nodes move into the custom pool first. The rest stay where they are until the pool has
        converged with them; RV(waves) lists the order.
      - V(0) (the default) moves every chosen node at once. With an empty O(node_selector), anything else takes the
        custom pool O(pool_name) with every worker chosen, since the worker pool updates all its nodes at once.
      - Refused when negative or larger than the number of chosen nodes, and on compact and single-node clusters.
    type: raw
    default: 0
  wave_size:
    description:
      - After the canary, how many chosen nodes move into the custom pool at a time, each wave waited for before the
        next moves; a number of nodes (1 up to the number of chosen nodes) or a percentage of the chosen nodes from
        V(1%) to V(100%) (rounded down, at least one node).
      - Unset moves every node after the canary in one wave. Set alone, with no O(canary), it takes the custom pool
        like O(canary) does.
    type: raw
  canary_verify:
    description:
      - Whether the install runs the verify pod on the canary nodes before the waves move. Checked here, it needs
        O(canary) of 1 or more and a fully qualified O(verify_image).
    type: bool
    default: false
  verify_image:
    description: The verify pods' image (C(sandboxed_containers_verify_image)), checked when O(canary_verify=true).
    type: str
  rollout:
    description:
      - When the nodes take the change (install and upgrade).
      - V(now) rolls it out; a pool the collection paused to stage a change is resumed (RV(window.resume)).
      - V(staged) plans a maintenance window; the pools whose nodes the change reaches are paused
        (RV(window.pause)) and no node updates until a later run with V(now) resumes them, or someone does
        (a cluster upgrade's rollout, for instance); RV(window.staged) names the nodes that reboot then, once for
        every change staged in the pool. Refused for a pool that is rolling out another change, and for a change
        that moves nodes between pools.
      - A pool paused by someone else (without the collection's mark) is refused either way.
    type: str
    choices: [now, staged]
    default: now
  drain_blockers:
    description:
      - What to do, with O(operation=install) or O(operation=upgrade), when the MCO's drain of a node that reboots
        would not finish or would lose pods. A PodDisruptionBudget that allows no disruption selects one of its
        pods (the Eviction API refuses it and the drain waits), or a pod has no controller (the drain deletes it
        and nothing recreates it).
      - V(stop) refuses before any change, naming node, pod and budget. V(warn) goes on with a warning; the wait
        then names the held drain as soon as an eviction is refused.
      - Pods with C(emptyDir) volumes are named in RV(drain_lines) but never block; the drain deletes their data,
        which is scratch space by definition.
    type: str
    choices: [stop, warn]
    default: stop
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
  - sandboxed.containers.policy
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
- name: Plan sandboxed containers on the workers labelled for it
  sandboxed.containers.preflight:
    node_selector:
      matchLabels:
        sandboxed: "true"
    crio_dropin: >-
      {{ 'kata' | sandboxed.containers.crio_dropin(runtime_path='/usr/bin/containerd-shim-kata-v2',
         runtime_type='vm', runtime_root='/run/vc', privileged_without_host_devices=true) }}
  register: preflight

- name: Show the nodes that would reboot
  ansible.builtin.debug:
    msg: "{{ preflight.plan.reboot }}"

- name: Plan one canary node, then the other workers two at a time, through the custom pool
  sandboxed.containers.preflight:
    canary: 1
    wave_size: 2
    crio_dropin: "{{ lookup('ansible.builtin.file', 'crio-dropin.toml') }}"
  register: preflight
"""

RETURN = r"""
api_host:
  description: The API server the collection talks to.
  returned: success
  type: str
topology:
  description: V(standard), V(compact) or V(sno).
  returned: success
  type: str
target_pool:
  description: The pool whose nodes get sandboxed containers.
  returned: success
  type: str
  sample: kata-oc
custom_pool:
  description: Whether the target is a custom pool the collection manages.
  returned: success
  type: bool
role:
  description: The C(machineconfiguration.openshift.io/role) label of the MachineConfig.
  returned: success
  type: str
chosen_nodes:
  description: The nodes that get sandboxed containers.
  returned: success
  type: list
  elements: str
plan:
  description: What the change does to nodes.
  returned: success
  type: dict
  contains:
    label:
      description: Nodes that get the pool's node-role label.
      type: list
      elements: str
    unlabel:
      description: Nodes that lose it.
      type: list
      elements: str
    reboot:
      description: Nodes whose rendered config changes, so that the MCO reboots each of them once.
      type: list
      elements: str
    why:
      description: Node name to what changes in its rendered config, for the nodes that reboot.
      type: dict
    moves:
      description: Node name to [pool before, pool after].
      type: dict
    handler:
      description: Nodes whose rendered config carries the MachineConfig after the change.
      type: list
      elements: str
    handler_kept:
      description: Nodes whose rendered config carries it before and after the change.
      type: list
      elements: str
    pools:
      description: The pools that carry the MachineConfig after the change (the target and every pool that
        inherits its role), each with its nodes.
      type: dict
    pools_losing:
      description: The pools that carry it before the change and not after.
      type: list
      elements: str
installed:
  description: What the collection already manages in the cluster, with versions.
  returned: success
  type: dict
transition:
  description: How the change is made with one reboot per node; V(apply), V(to_custom) (from the worker pool
    to a custom pool) or V(to_worker) (back).
  returned: install and upgrade
  type: str
changes:
  description: In words, each managed object that is created or changes.
  returned: install and upgrade
  type: list
  elements: str
versions:
  description: "The managed objects whose collection version moves, as C(kind: old -> new)."
  returned: install and upgrade
  type: list
  elements: str
path:
  description: For O(operation=uninstall), V(custom), V(worker), V(master) or V(none) (nothing installed).
  returned: uninstall
  type: str
unlabel:
  description: For O(operation=uninstall), the nodes that lose the custom pool's node-role label.
  returned: uninstall
  type: list
  elements: str
extension:
  description: The extension name for the chosen nodes' operating system.
  returned: install and upgrade
  type: str
  sample: sandboxed-containers
stale_runtime_classes:
  description: The collection's RuntimeClasses under an earlier name (its label, another name), which the install
    deletes; refused while pods use them.
  returned: install and upgrade
  type: list
  elements: str
window:
  description:
    - The maintenance window (O(rollout)). C(pause) lists the pools the install pauses, C(resume) the pools the
      collection paused that the run resumes (an uninstall resumes them too), C(staged) maps each paused or
      resumed pool to the nodes that update (and reboot, once) when it resumes.
  returned: install and upgrade
  type: dict
  sample: {"pause": ["worker"], "resume": [], "staged": {"worker": ["worker-0", "worker-1"]}}
  contains:
    pause:
      description: The pools the install pauses (O(rollout=staged)).
      type: list
      elements: str
    resume:
      description: The pools the collection paused that the run resumes.
      type: list
      elements: str
    staged:
      description: Each paused or resumed pool, and the nodes that update (and reboot, once) when it resumes.
      type: dict
resume:
  description: For O(operation=uninstall), the pools the collection paused to stage a change, which the uninstall
    resumes before it removes anything.
  returned: uninstall
  type: list
  elements: str
runtime_classes:
  description: For O(operation=uninstall), the collection's RuntimeClasses to delete (every one with its label),
    the current name first.
  returned: uninstall
  type: list
  elements: str
machine_config:
  description: For O(operation=uninstall), whether the MachineConfig is the collection's to delete.
  returned: uninstall
  type: bool
left_alone:
  description: For O(operation=uninstall), the objects of the collection's names that it did not create, as
    C(kind name); the uninstall leaves them alone.
  returned: uninstall
  type: list
  elements: str
release:
  description: The OpenShift release the ClusterVersion reports, or null where it cannot be read.
  returned: success
  type: str
admission_policy_served:
  description: Whether the API server serves ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1).
  returned: success
  type: bool
handler_labelled:
  description: The nodes that carry the C(sandboxed.containers/handler) label now.
  returned: success
  type: list
  elements: str
handler_label_remove_first:
  description: The nodes whose C(sandboxed.containers/handler) label goes before anything else changes, since they
    will not keep the handler.
  returned: install and upgrade
  type: list
  elements: str
handler_label_changes:
  description: Whether the label must change on some node once the rollout has finished.
  returned: install and upgrade
  type: bool
waves:
  description:
    - The canary, then the waves, in the order the chosen nodes move into the custom pool; empty when every chosen
      node moves at once (O(canary=0), O(wave_size) unset, or a move that reboots no node).
    - Chosen nodes already in the pool come first, the others by name, so a run that stopped resumes with the same
      waves.
  returned: install and upgrade
  type: list
  elements: dict
  contains:
    name:
      description: V(canary), V(wave 1), V(wave 2) ...
      type: str
    nodes:
      description: The nodes this wave moves.
      type: list
      elements: str
    labels:
      description: Every node that carries the pool's node-role label once this wave has moved (the waves before
        it, and the chosen nodes already in the pool).
      type: list
      elements: str
    moved:
      description: Whether all its nodes are in the pool already.
      type: bool
    later:
      description: The waves after it with their nodes, in words, which a failure in this wave leaves untouched.
      type: str
  sample: [{"name": "canary", "nodes": ["worker-0"], "labels": ["worker-0"], "moved": false},
           {"name": "wave 1", "nodes": ["worker-1", "worker-2"], "labels": ["worker-0", "worker-1", "worker-2"],
            "moved": false}]
drain:
  description: For O(operation=install) and O(operation=upgrade), per node that reboots, what its drain does to its
    pods; empty when no node reboots.
  returned: install and upgrade
  type: list
  elements: dict
  contains:
    node:
      description: The node.
      type: str
    evicted:
      description: The pods the drain evicts, as C(namespace/name) (DaemonSet, mirror and finished pods stay).
      type: list
      elements: str
    unmanaged:
      description: The evicted pods without a controller, which nothing recreates.
      type: list
      elements: str
    empty_dir:
      description: The evicted pods with C(emptyDir) volumes, whose data the drain deletes.
      type: list
      elements: str
    held:
      description: The evictions a PodDisruptionBudget refuses, each with C(pod) and C(budgets).
      type: list
      elements: dict
drain_lines:
  description: RV(drain) in words, for the plan.
  returned: install and upgrade
  type: list
  elements: str
messages:
  description: Notes for the user, such as the compact-cluster target.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._drain import lines as drain_lines
from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import (
    Cluster,
    ClusterError,
    optional_list,
    run_module,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_HANDLER,
    DEFAULT_POOL_NAME,
    DEFAULT_RUNTIME_CLASS,
    HANDLER_LABEL,
    MACHINE_CONFIG_NAME,
    MC_API,
    ROLE_LABEL,
    RUNTIME_CLASS_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    custom_pool,
    is_managed,
    machine_config,
    runtime_class,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import cluster_release
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    POLICY_NAMES,
    POLICY_OPTIONS,
    PolicyError,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    Facts,
    PreflightError,
    Settings,
    check_drain,
    check_offline,
    check_versions,
    decide,
    decide_uninstall,
    object_changes,
)

POLICY_API = "admissionregistration.k8s.io/v1"
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import parse_max_unavailable
from ansible_collections.sandboxed.containers.plugins.module_utils._status import version_of
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION


def read_release(cluster: Cluster):
    """The OpenShift release from the ClusterVersion, or None where it cannot be read."""
    try:
        return cluster_release(cluster.get("config.openshift.io/v1", "ClusterVersion", "version"))
    except ClusterError:
        return None  # not served (not OpenShift) or not readable: the plan assumes the newest MCO behaviour


def read_facts(cluster: Cluster, machine_config_name: str) -> Facts:
    nodes = cluster.list("v1", "Node")
    pools = cluster.list(MC_API, "MachineConfigPool")
    # The rendered configs carry no role label: the selector leaves them (and their size) out.
    mcs = cluster.list(MC_API, "MachineConfig", label_selector=ROLE_LABEL)
    current = next((m for m in mcs if m["metadata"]["name"] == machine_config_name), None)
    if current is None:
        current = cluster.get(MC_API, "MachineConfig", machine_config_name)
    return Facts(
        nodes=nodes, pools=pools, machine_configs=mcs, current_mc=current,
        kataconfigs=[k["metadata"]["name"] for k in optional_list(cluster, "kataconfiguration.openshift.io/v1",
                                                                  "KataConfig")],
        release=read_release(cluster),
        serves_admission_policy=cluster.serves("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
        machine_os_configs=optional_list(cluster, MC_API, "MachineOSConfig"),
        runtime_classes=cluster.list(RUNTIME_CLASS_API, "RuntimeClass"),
        container_runtime_configs=optional_list(cluster, MC_API, "ContainerRuntimeConfig"),
        policy_objects=read_policy_objects(cluster),
    )


def read_policy_objects(cluster: Cluster) -> list[dict]:
    """The admission policies and bindings of the collection's names, by name (the automation may read no other)."""
    if not cluster.serves(POLICY_API, "ValidatingAdmissionPolicy"):
        return []
    found = []
    for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        for name in POLICY_NAMES:
            obj = cluster.get(POLICY_API, kind, name)
            if obj is not None:
                found.append({**obj, "kind": kind})
    return found


def checked_settings(p: dict) -> Settings:
    """The settings, checked before the cluster is even read: bad input is reported before anything else."""
    op = p["operation"]
    policy = p["policy"] if op != "uninstall" else None
    settings = Settings(
        node_selector=p["node_selector"], pool_name=p["pool_name"], runtime_class_name=p["runtime_class_name"],
        handler=p["handler"], overhead=p["overhead"], crio_dropin=p["crio_dropin"] if op != "uninstall" else None,
        max_unavailable=p["max_unavailable"], virtualization_check=p["virtualization_check"],
        unsupported_architecture=p["unsupported_architecture"],
        policy_requested=bool(policy and policy.get("modes")),
        adopt=p["adopt"], canary=p["canary"], wave_size=p["wave_size"], canary_verify=p["canary_verify"],
        verify_image=p["verify_image"], rollout=p["rollout"], drain_blockers=p["drain_blockers"],
    )
    try:
        if op != "uninstall":
            check_offline(settings, allow_non_vm_runtime=p["allow_non_vm_runtime"], policy=policy)
    except (PreflightError, PolicyError) as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None
    return settings


def check(cluster: Cluster) -> dict:
    """Checks the settings, reads the cluster, then plans the removal or the installation (changes nothing)."""
    p = cluster.task.params
    op = p["operation"]
    settings = checked_settings(p)
    facts = read_facts(cluster, p["machine_config_name"])
    if op != "uninstall" and any(is_managed(x) and x["metadata"]["name"] != p["runtime_class_name"]
                                 for x in facts.runtime_classes):
        facts.pods = cluster.list("v1", "Pod")  # a renamed runtime class: refused while pods use the old one
    labels = {n["metadata"]["name"]: (n["metadata"].get("labels") or {})[HANDLER_LABEL] for n in facts.nodes
              if HANDLER_LABEL in (n["metadata"].get("labels") or {})}
    rc = next((x for x in facts.runtime_classes if x["metadata"]["name"] == p["runtime_class_name"]), None)
    out = {"changed": False, "api_host": cluster.host, "installed": installed_objects(p, facts, rc), "operation": op,
           "admission_policy_served": facts.serves_admission_policy, "handler_labelled": sorted(labels)}
    try:
        if op == "uninstall":
            removal = decide_uninstall(facts, pool_name=p["pool_name"], runtime_class=p["runtime_class_name"],
                                       pods=cluster.list("v1", "Pod"), force=p["force"], handler=p["handler"])
            return {**out, **removal.as_dict(), "runtime_class_exists": rc is not None,
                    "release": facts.release.text if facts.release else None}
        return {**out, **plan_installation(cluster, settings, facts, rc, labels, out["installed"])}
    except PreflightError as e:
        raise ClusterError(f"{e}. Nothing was changed.") from None


def installed_objects(p: dict, facts: Facts, rc: dict | None) -> dict:
    """The collection's objects found, with the version that wrote each."""
    pool = next((x for x in facts.pools if x["metadata"]["name"] == p["pool_name"]), None)
    mc = facts.current_mc
    return {
        "machine_config": {"name": p["machine_config_name"], "version": version_of(mc)} if mc else None,
        "pool": {"name": p["pool_name"], "version": version_of(pool)} if pool else None,
        "runtime_class": {"name": p["runtime_class_name"], "version": version_of(rc)} if rc else None,
    }


def plan_installation(cluster: Cluster, settings: Settings, facts: Facts, rc: dict | None, labels: dict[str, str],
                      installed: dict) -> dict:
    """The install's (or upgrade's) decision, what the handler-label steps have to do, and each object's change."""
    p = cluster.task.params
    if p["operation"] == "upgrade" and facts.current_mc is None:
        raise PreflightError("sandboxed containers are not installed here (no MachineConfig "
                             f"{p['machine_config_name']}); run playbooks/install.yml")
    kinds = {"machine_config": "MachineConfig", "pool": "MachineConfigPool", "runtime_class": "RuntimeClass"}
    versions = check_versions(
        {f"{kinds[k]} {v['name']}": v["version"] for k, v in installed.items() if v}, COLLECTION_VERSION,
        p["allow_downgrade"])
    d = decide(settings, facts, operation=p["operation"])
    drain, drain_warnings = preview_drain(cluster, settings, facts, d.plan["reboot"])
    for w in d.warnings + drain_warnings:
        cluster.task.warn(w)
    decision = d.as_dict()
    decision.pop("warnings")  # given through the task's warnings above
    decision["drain"] = drain
    decision["drain_lines"] = drain_lines(drain)
    # What the handler label steps have to do, so that a run with nothing to do skips them.
    decision["handler_label_remove_first"] = sorted(set(labels) - set(d.plan["handler_kept"]))
    decision["handler_label_changes"] = labels != dict.fromkeys(d.plan["handler"], p["handler"])
    current_pool = next((x for x in facts.pools if x["metadata"]["name"] == p["pool_name"]), None)
    desired_pool = (custom_pool(p["pool_name"], max_unavailable=parse_max_unavailable(p["max_unavailable"]))
                    if d.custom_pool else None)
    changes = object_changes(
        current_mc=facts.current_mc, desired_mc=machine_config(d.role, p["crio_dropin"], extensions=[d.extension]),
        current_pool=current_pool if (d.custom_pool or d.transition == "to_worker") else None,
        desired_pool=desired_pool,
        current_rc=rc, desired_rc=runtime_class(p["runtime_class_name"], p["handler"], p["overhead"],
                                                tolerations=p["tolerations"] or None),
        stale_runtime_classes=d.stale_runtime_classes)
    return {**decision, "changes": changes, "versions": versions}


def preview_drain(cluster: Cluster, settings: Settings, facts: Facts, reboot: list[str]
                  ) -> tuple[list[dict], list[str]]:
    """What the drain of each node that reboots does to its pods; reads pods and budgets only when a node reboots."""
    if not reboot:
        return [], []
    pods = facts.pods or cluster.list("v1", "Pod")
    budgets = cluster.list("policy/v1", "PodDisruptionBudget")
    return check_drain(settings, reboot, pods, budgets)


ARGUMENT_SPEC = {
    "operation": {"type": "str", "choices": ["install", "upgrade", "uninstall"], "default": "install"},
    "node_selector": {"type": "dict", "default": {}},
    "pool_name": {"type": "str", "default": DEFAULT_POOL_NAME},
    "runtime_class_name": {"type": "str", "default": DEFAULT_RUNTIME_CLASS},
    "handler": {"type": "str", "default": DEFAULT_HANDLER},
    "overhead": {"type": "dict", "default": {"cpu": "250m", "memory": "350Mi"}},
    "tolerations": {"type": "list", "elements": "dict", "default": []},
    "crio_dropin": {"type": "str"},
    "allow_non_vm_runtime": {"type": "bool", "default": False},
    "max_unavailable": {"type": "raw"},
    "virtualization_check": {"type": "str", "choices": ["fail", "warn", "ignore"], "default": "fail"},
    "unsupported_architecture": {"type": "str", "choices": ["fail", "exclude"], "default": "fail"},
    "machine_config_name": {"type": "str", "default": MACHINE_CONFIG_NAME},
    "force": {"type": "bool", "default": False},
    "allow_downgrade": {"type": "bool", "default": False},
    "policy": {"type": "dict", "options": POLICY_OPTIONS},
    "adopt": {"type": "bool", "default": False},
    "canary": {"type": "raw", "default": 0},
    "wave_size": {"type": "raw"},
    "canary_verify": {"type": "bool", "default": False},
    "verify_image": {"type": "str"},
    "rollout": {"type": "str", "choices": ["now", "staged"], "default": "now"},
    "drain_blockers": {"type": "str", "choices": ["stop", "warn"], "default": "stop"},
}
VALIDATION = {"required_if": [("operation", "install", ("crio_dropin",)), ("operation", "upgrade", ("crio_dropin",))]}


def main() -> None:
    run_module(ARGUMENT_SPEC, check, **VALIDATION)


if __name__ == "__main__":
    main()
