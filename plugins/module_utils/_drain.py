# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What draining a node does to its pods, as the MCO's drain controller drains it. Pure.

The drain controller (machine-config-operator pkg/controller/drain/drain_controller.go) runs kubectl's drain
helper (k8s.io/kubectl/pkg/drain) with Force, IgnoreAllDaemonSets and DeleteEmptyDirData: DaemonSet and mirror
pods stay, every other pod is evicted through the Eviction API, pods without a controller are evicted too (and
nothing recreates them), and emptyDir data is lost. The Eviction API refuses a pod while a PodDisruptionBudget
that selects it allows no disruption (k8s pkg/registry/core/pod/storage/eviction.go), and refuses outright a pod
that more than one budget selects; the helper then retries, so one such pod holds the whole drain.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._selector import matches

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def pod_key(pod: dict) -> str:
    md = pod["metadata"]
    return f"{md.get('namespace', '')}/{md['name']}"


def controller_of(pod: dict) -> dict | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def stays(pod: dict) -> bool:
    """A pod the drain leaves where it is: a DaemonSet's, a mirror (static) pod, or one that has finished."""
    ref = controller_of(pod)
    if ref is not None and ref.get("kind") == "DaemonSet":
        return True
    if MIRROR_ANNOTATION in (pod["metadata"].get("annotations") or {}):
        return True
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def budget_selects(budget: dict, pod: dict) -> bool:
    """policy/v1: a budget in the pod's namespace; a null selector selects nothing, an empty one every pod."""
    if budget["metadata"].get("namespace") != pod["metadata"].get("namespace"):
        return False
    selector = (budget.get("spec") or {}).get("selector")
    if selector is None:
        return False
    return matches(selector, pod["metadata"].get("labels"))


def budgets_holding(pod: dict, budgets: list[dict]) -> list[str]:
    """The budgets that make the Eviction API refuse the pod: one selecting it that allows no disruption, or all
    of them when more than one selects it (the API does not evict such a pod at all)."""
    selecting = [b for b in budgets if budget_selects(b, pod)]
    if len(selecting) > 1:
        return sorted(b["metadata"]["name"] for b in selecting)
    return [b["metadata"]["name"] for b in selecting
            if int((b.get("status") or {}).get("disruptionsAllowed") or 0) <= 0]


def preview(node: str, pods: list[dict], budgets: list[dict]) -> dict:
    """What draining `node` does: pods evicted (namespace/name), pods without a controller (deleted and lost),
    pods with emptyDir volumes (their data lost), and the evictions a budget holds ({pod, budgets})."""
    out: dict = {"node": node, "evicted": [], "unmanaged": [], "empty_dir": [], "held": []}
    for pod in sorted(pods, key=pod_key):
        # A pod already being deleted (its namespace going, say) leaves without the drain's help.
        if (pod.get("spec") or {}).get("nodeName") != node or stays(pod) or pod["metadata"].get("deletionTimestamp"):
            continue
        key = pod_key(pod)
        out["evicted"].append(key)
        if controller_of(pod) is None:
            out["unmanaged"].append(key)
        if any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or []):
            out["empty_dir"].append(key)
        holding = budgets_holding(pod, budgets)
        if holding:
            out["held"].append({"pod": key, "budgets": holding})
    return out


def held_words(node: str, held: list[dict]) -> str:
    """One line naming what holds a node's drain, for progress lines and failure messages."""
    parts = [f"{h['pod']} (PodDisruptionBudget {', '.join(h['budgets'])})" for h in held]
    return f"the drain of {node} is held by " + "; ".join(parts)


def lines(previews: list[dict]) -> list[str]:
    """The drain preview in words, node by node, for the plan."""
    out = []
    for p in previews:
        node = p["node"]
        out.append(f"Drain of {node}: evicts {', '.join(p['evicted'])}" if p["evicted"]
                   else f"Drain of {node}: evicts no pod")
        out += [f"{pod} has no controller: the drain deletes it and nothing recreates it" for pod in p["unmanaged"]]
        out += [f"{pod} has emptyDir volumes: the drain deletes their data" for pod in p["empty_dir"]]
        if p["held"]:
            out.append(held_words(node, p["held"]))
    return out


def blockers(previews: list[dict]) -> list[str]:
    """What holds a drain (a budget that allows no disruption) or is lost by it (a pod without a controller), in
    words. emptyDir data is not among them: it is scratch space by definition, and the drain helper is told to
    delete it."""
    out = []
    for p in previews:
        if p["held"]:
            out.append(held_words(p["node"], p["held"]))
        out += [f"{pod} on {p['node']} has no controller: the drain deletes it and nothing recreates it"
                for pod in p["unmanaged"]]
    return out


DESIRED_DRAIN = "machineconfiguration.openshift.io/desiredDrain"
LAST_APPLIED_DRAIN = "machineconfiguration.openshift.io/lastAppliedDrain"


def drain_pending(node: dict) -> bool:
    """The daemon asked the drain controller for a drain (desiredDrain drain-<config>) that it has not finished
    (lastAppliedDrain differs): the node is cordoned, or about to be, and its pods are being evicted."""
    a = node["metadata"].get("annotations") or {}
    desired = a.get(DESIRED_DRAIN) or ""
    return desired.startswith("drain-") and desired != a.get(LAST_APPLIED_DRAIN)


def name_held(text: str, node: str, held: list[dict]) -> str:
    """A progress line with the held drain of `node` named after "<node> Working" (or at its end)."""
    words = held_words(node, held)
    if words in text:
        return text
    working = f"{node} Working"
    if working in text:
        return text.replace(working, f"{working}: {words}", 1)
    return f"{text}; {words}"
