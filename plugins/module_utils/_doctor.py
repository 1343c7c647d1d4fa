# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The doctor: the stuck states users hit with sandboxed containers, each recognised from the cluster's objects, with
the evidence and the fix. Pure: the doctor_info module reads the cluster into Facts and calls diagnose().

Each diagnosis returns findings {id, severity, subject, evidence, fix}: severity V(error) for a state that does not
resolve by itself (a rollout that cannot finish, a node that cannot run sandboxed pods, an admission policy that is
not enforced), V(warning) for one that will bite at the next change.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ansible_collections.sandboxed.containers.plugins.module_utils._drain import preview
from ansible_collections.sandboxed.containers.plugins.module_utils._membership import (
    custom_pools_of,
    matching_pools,
    primary_pool,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    DESIRED_DRAIN,
    HANDLER_LABEL,
    LAST_APPLIED_DRAIN,
    MCD_REASON,
    MCD_STATE,
    POST_CONFIG_ACTION,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import is_paused, paused_message
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    Facts as PreflightFacts,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    kataconfig_problem,
    neighbour_problems,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._readiness import (
    reported_handlers,
    reports_handlers,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import matches

SEVERITIES = ("error", "warning")
# The ids of the diagnoses, in the order diagnose() runs them (docs and tests list them).
DIAGNOSES = ("drain-held", "node-degraded", "node-not-ready-after-reboot", "node-in-two-custom-pools", "pool-paused",
             "pod-terminating-without-handler", "kataconfig", "kata-leftover", "policy-not-in-force",
             "runtime-class-without-handler")


@dataclass
class Facts:
    """What the doctor read from the cluster; `now` in seconds since the epoch."""

    nodes: list[dict]
    pools: list[dict]
    now: float
    pods: list[dict] = field(default_factory=list)
    budgets: list[dict] = field(default_factory=list)  # PodDisruptionBudgets, every namespace
    machine_configs: list[dict] = field(default_factory=list)  # the non-rendered ones
    kataconfigs: list[str] = field(default_factory=list)
    container_runtime_configs: list[dict] = field(default_factory=list)
    runtime_classes: list[dict] = field(default_factory=list)
    policy: dict | None = None  # _status.policy_summary()
    handler: str = "kata"
    reboot_timeout: float = 900  # seconds a node may stay NotReady in its reboot (sandboxed_containers_reboot_timeout)


def finding(id_: str, severity: str, subject: str, evidence: str, fix: str) -> dict:
    return {"id": id_, "severity": severity, "subject": subject, "evidence": evidence, "fix": fix}


def seconds(timestamp: str | None) -> float | None:
    """An RFC 3339 time of the API (2026-11-28T11:18:36Z) in seconds since the epoch."""
    if not timestamp:
        return None
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _ann(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def _ready(node: dict) -> dict:
    return next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})


def has_handler(node: dict, handler: str) -> bool:
    """Whether CRI-O on the node has the handler: the kubelet's runtimeHandlers where the node reports them
    (Kubernetes 1.30+), else the collection's handler label (put on once the node runs the drop-in)."""
    if reports_handlers(node):
        return handler in reported_handlers(node)
    return _labels(node).get(HANDLER_LABEL) == handler


def drains_held(f: Facts) -> list[dict]:
    """A drain the drain controller was asked for (desiredDrain drain-…, not yet lastAppliedDrain) that a
    PodDisruptionBudget holds: the Eviction API answers 429 and the controller retries until the MCD's timeout."""
    out = []
    for node in f.nodes:
        ann, name = _ann(node), node["metadata"]["name"]
        desired = ann.get(DESIRED_DRAIN) or ""
        if not desired.startswith("drain-") or ann.get(LAST_APPLIED_DRAIN) == desired:
            continue
        for held in preview(name, f.pods, f.budgets)["held"]:
            namespace, pod = held["pod"].split("/", 1)
            budgets = ", ".join(f"{namespace}/{b}" for b in held["budgets"])
            several = len(held["budgets"]) > 1
            out.append(finding(
                "drain-held", "error", f"node {name}",
                f"the MCO drains {name} for its update ({DESIRED_DRAIN} {desired}) and the Eviction API refuses to "
                f"evict pod {held['pod']}: " + (f"PodDisruptionBudgets {budgets} all select it" if several else
                                                f"PodDisruptionBudget {budgets} allows no disruption now"),
                ("keep one PodDisruptionBudget per pod (the API never evicts a pod that several select)" if several
                 else f"let the budget allow one disruption: scale the workload of {held['pod']} up, or relax the "
                      f"budget (oc edit pdb -n {namespace} {held['budgets'][0]})")
                + f", or delete the pod yourself (oc delete pod -n {namespace} {pod}); the drain controller retries "
                  "and the rollout goes on. Unsolved, the daemon fails the node after an hour"))
    return out


def degraded_nodes(f: Facts) -> list[dict]:
    out = []
    for node in f.nodes:
        ann, name = _ann(node), node["metadata"]["name"]
        state = ann.get(MCD_STATE)
        if state not in ("Degraded", "Unreconcilable"):
            continue
        out.append(finding(
            "node-degraded", "error", f"node {name}",
            f"the machine-config daemon of {name} is {state}: {ann.get(MCD_REASON) or 'no reason given'} (it runs "
            f"{ann.get(CURRENT_CONFIG)}, told to run {ann.get(DESIRED_CONFIG)})",
            "fix what the reason names (oc describe node " + name + "; oc logs -n openshift-machine-config-operator "
            "the machine-config-daemon pod of the node); the daemon retries by itself and the node becomes Done. "
            "If the collection's MachineConfig is the cause, correct the settings and run the install again, or "
            "uninstall"))
    return out


def not_ready_after_reboot(f: Facts) -> list[dict]:
    """A node that went down for its update's reboot and has not come back within reboot_timeout."""
    out = []
    for node in f.nodes:
        ann, name, ready = _ann(node), node["metadata"]["name"], _ready(node)
        updating = ann.get(MCD_STATE) == "Working" and ann.get(CURRENT_CONFIG) != ann.get(DESIRED_CONFIG)
        if ready.get("status") == "True" or not (ann.get(POST_CONFIG_ACTION) == "Rebooting" or updating):
            continue
        since = seconds(ready.get("lastTransitionTime"))
        down = f.now - since if since is not None else None
        if down is not None and down < f.reboot_timeout:
            continue  # still within an ordinary reboot
        out.append(finding(
            "node-not-ready-after-reboot", "error", f"node {name}",
            f"{name} rebooted into {ann.get(DESIRED_CONFIG)} and is Ready={ready.get('status', 'Unknown')} "
            f"({ready.get('message') or ready.get('reason') or 'no message'}) for {int(down or 0)} s; the daemon "
            f"is {ann.get(MCD_STATE)}, the node stays cordoned and the rollout waits for it",
            "the node's kubelet does not start: look at its console or journal (journalctl -b -u crio -u kubelet). "
            "CRI-O exiting at boot on a configuration it cannot load is the usual cause; if it is the collection's "
            "drop-in, fix the sandboxed_containers_crio_* settings and run the install again (the MCO rolls the "
            "fixed config out once the node is back). A node that never returns must be restarted or replaced"))
    return out


def nodes_in_two_custom_pools(f: Facts) -> list[dict]:
    out = []
    for node in f.nodes:
        name, labels = node["metadata"]["name"], _labels(node)
        membership = primary_pool(name, labels, f.pools)
        if not membership.error:
            continue
        custom = custom_pools_of(matching_pools(labels, f.pools))
        out.append(finding(
            "node-in-two-custom-pools", "error", f"node {name}",
            f"the nodeSelectors of the custom pools {', '.join(custom)} all match {name}; the MCO says \""
            f"{membership.error}\" and updates it with none of them",
            f"remove the label that puts {name} in all but one of them (oc label node {name} "
            f"node-role.kubernetes.io/<pool>-), or change those pools' nodeSelectors"))
    return out


def paused_pools(f: Facts) -> list[dict]:
    out = []
    for pool in f.pools:
        if not is_paused(pool):
            continue
        name, spec, status = pool["metadata"]["name"], pool.get("spec") or {}, pool.get("status") or {}
        target = (spec.get("configuration") or {}).get("name")
        behind = (status.get("machineCount") or 0) - (status.get("updatedMachineCount") or 0)
        pending = behind > 0 or target != (status.get("configuration") or {}).get("name")
        evidence = f"pool {name} has spec.paused true" + (
            f": {behind} of its {status.get('machineCount') or 0} nodes are not on {target}, and the MCO updates "
            "none of them while it is paused" if pending else "; nothing is pending, but the next change will "
                                                              "not roll out")
        out.append(finding("pool-paused", "error" if pending else "warning", f"pool {name}", evidence,
                           paused_message(name)))
    return out


def terminating_without_handler(f: Facts) -> list[dict]:
    """Pods past their deletion time whose node lacks their runtime class's handler (or whose runtime class is
    gone): the kubelet cannot stop a sandbox through a handler CRI-O no longer has, so they stay Terminating."""
    classes = {rc["metadata"]["name"]: rc for rc in f.runtime_classes}
    nodes = {n["metadata"]["name"]: n for n in f.nodes}
    out = []
    for pod in f.pods:
        md, spec = pod["metadata"], pod.get("spec") or {}
        deleted, rc_name = seconds(md.get("deletionTimestamp")), spec.get("runtimeClassName")
        if deleted is None or deleted > f.now or not rc_name:
            continue
        rc, node = classes.get(rc_name), nodes.get(spec.get("nodeName") or "")
        handler = (rc or {}).get("handler")
        if node is not None and rc is not None and has_handler(node, handler):
            continue
        key = f"{md.get('namespace')}/{md['name']}"
        why = (f"RuntimeClass {rc_name} no longer exists" if rc is None else
               f"node {spec.get('nodeName') or '(none)'} does not have the handler {handler} of RuntimeClass {rc_name}")
        finalizers = md.get("finalizers") or []
        out.append(finding(
            "pod-terminating-without-handler", "error", f"pod {key}",
            f"pod {key} is Terminating for {int(f.now - deleted)} s past its deletion time and {why}"
            + (f"; finalizers {', '.join(finalizers)}" if finalizers else ""),
            f"remove it from the API: oc delete pod -n {md.get('namespace')} {md['name']} --force --grace-period=0"
            + (" after whoever set its finalizers is done (oc patch pod -n "
               f"{md.get('namespace')} {md['name']} --type merge -p '{{\"metadata\":{{\"finalizers\":null}}}}')"
               if finalizers else "")
            + ". Next time, delete the pods that use the runtime class before the uninstall removes the handler"))
    return out


def operator_and_kata_deploy(f: Facts) -> list[dict]:
    """A KataConfig (the operator manages the cluster), and what the operator or kata-deploy left behind."""
    out = []
    managed = kataconfig_problem(f.kataconfigs)
    if managed:
        out.append(finding("kataconfig", "error", managed.subject, managed.evidence, managed.fix))
    facts = PreflightFacts(nodes=f.nodes, pools=f.pools, machine_configs=f.machine_configs,
                           runtime_classes=f.runtime_classes, container_runtime_configs=f.container_runtime_configs)
    for n in neighbour_problems(f.handler, facts):
        out.append(finding("kata-leftover", "error", n.subject, n.evidence, n.fix))
    return out


def policy_not_in_force(f: Facts) -> list[dict]:
    """An admission policy was installed (its settings are recorded) and is not in force now."""
    p = f.policy or {}
    if not p.get("modes") and not p.get("problems"):
        return []  # no policy was asked for
    if p.get("in_force"):
        return []
    return [finding(
        "policy-not-in-force", "error", "admission policy",
        f"the admission policy recorded with modes {', '.join(p.get('modes') or []) or '(invalid record)'} is not in "
        f"force: {'; '.join(p.get('problems') or [])}; whoever may create pods may use the runtime class",
        "run the install, upgrade or playbooks/policy.yml again to restore it (or playbooks/policy.yml with "
        "sandboxed_containers_policy: {} to remove it on purpose)")]


def _tolerated(taint: dict, tolerations: list[dict]) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def selected_nodes(rc: dict, nodes: list[dict]) -> list[dict]:
    """The nodes a RuntimeClass's scheduling lets its pods onto: its nodeSelector matches, and every NoSchedule
    or NoExecute taint is tolerated by its tolerations (the RuntimeClass admission plugin adds both to the pod)."""
    scheduling = rc.get("scheduling") or {}
    selector, tolerations = scheduling.get("nodeSelector") or {}, scheduling.get("tolerations") or []
    return [n for n in nodes if matches({"matchLabels": selector}, _labels(n))
            and not (n.get("spec") or {}).get("unschedulable")
            and all(_tolerated(t, tolerations) for t in (n.get("spec") or {}).get("taints") or []
                    if t.get("effect") in ("NoSchedule", "NoExecute"))]


def runtime_classes_without_handler(f: Facts) -> list[dict]:
    """A RuntimeClass of the handler whose scheduling admits nodes that lack the handler: its pods land there and
    fail with FailedCreatePodSandBox (no runtime for the handler is configured)."""
    out = []
    for rc in sorted(f.runtime_classes, key=lambda r: r["metadata"]["name"]):
        if rc.get("handler") != f.handler:
            continue
        name = rc["metadata"]["name"]
        lacking = sorted(n["metadata"]["name"] for n in selected_nodes(rc, f.nodes) if not has_handler(n, f.handler))
        if not lacking:
            continue
        selector = (rc.get("scheduling") or {}).get("nodeSelector")
        out.append(finding(
            "runtime-class-without-handler", "error", f"RuntimeClass {name}",
            f"RuntimeClass {name} (handler {f.handler}, nodeSelector {selector or 'none: every node'}) lets pods "
            f"onto {', '.join(lacking)}, which lack the {f.handler} handler: pods scheduled there fail with "
            "FailedCreatePodSandBox",
            f"schedule it onto the nodes that have the handler: scheduling.nodeSelector {{{HANDLER_LABEL}: "
            f"{f.handler}}} as the collection's RuntimeClass has (oc edit runtimeclass {name}), or delete it if "
            f"nothing uses it (oc delete runtimeclass {name})"))
    return out


_ALL = (drains_held, degraded_nodes, not_ready_after_reboot, nodes_in_two_custom_pools, paused_pools,
        terminating_without_handler, operator_and_kata_deploy, policy_not_in_force, runtime_classes_without_handler)


def diagnose(f: Facts) -> list[dict]:
    """Every finding, errors first, in the order of DIAGNOSES."""
    found = [x for diagnosis in _ALL for x in diagnosis(f)]
    return sorted(found, key=lambda x: (SEVERITIES.index(x["severity"]), DIAGNOSES.index(x["id"])))


def summary(findings: list[dict]) -> dict[str, int]:
    return {s: sum(1 for x in findings if x["severity"] == s) for s in SEVERITIES}
