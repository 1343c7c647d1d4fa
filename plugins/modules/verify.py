#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: verify
short_description: Prove that sandboxed pods run in a VM on each chosen node
version_added: 1.0.0
description:
  - Starts one short-lived pod with the runtime class on each node (pinned with C(kubernetes.io/hostname), so the
    RuntimeClass's own scheduling applies too), waits until each runs, reads its log, reports per node and deletes
    the pods, also when something fails.
  - A pod that runs is not yet proof of a VM. Each pod prints C(uname -r) and the kernel's boot ID
    (C(/proc/sys/kernel/random/boot_id)); a sandboxed pod runs its own guest kernel, whose boot ID differs from the
    node's C(status.nodeInfo.bootID). A node whose pod reports the node's own kernel (same boot ID) fails, as its
    runtime handler did not start a VM. The release alone cannot tell, since OpenShift sandboxed containers boots
    a guest kernel built from the node's (the same C(uname -r)); RV(nodes) shows both.
  - A node where the pod cannot run is named with the reason, for example the sandbox error CRI-O reports when
    the node lacks the runtime handler (C(FailedCreatePodSandBox)), or why the scheduler cannot place it there.
  - The pods mount no service account token, fit the C(restricted) Pod Security profile, and require the
    C(restricted-v2) SCC (annotation C(openshift.io/required-scc)), so that they run as a non-root user from the
    namespace's range whoever creates them; a cluster administrator would otherwise get C(anyuid), and an image
    that runs as root would be refused by the kubelet.
  - The namespace O(namespace) is created when missing, labelled C(sandboxed.containers/verify=true),
    C(app.kubernetes.io/managed-by=sandboxed.containers) and for the C(restricted) Pod Security profile
    (C(pod-security.kubernetes.io/enforce), C(audit), C(warn)), and deleted afterwards. A namespace that exists
    without the first two labels is refused before any pod is created, because verify pods are let through the
    admission policy there and a namespace someone else made (for example a project a tenant requested under that
    name) is theirs. One with the labels, such as the P(sandboxed.containers.automation_access#role) role creates,
    is used and kept.
  - In check mode nothing is created; the result lists the nodes that would be checked, and a namespace that would
    be refused is refused.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  runtime_class_name:
    description: The RuntimeClass to run the pods with.
    type: str
    default: kata
  nodes:
    description: Nodes to check. Empty means every node the RuntimeClass schedules onto.
    type: list
    elements: str
    default: []
  namespace:
    description: Namespace of the pods; see the description for when it is created, used or refused.
    type: str
    default: sandboxed-containers-verify
  image:
    description:
      - Image of the pods; any image with C(sh), C(uname) and C(cat) that the cluster can pull, such as UBI 9
        minimal from Red Hat's registry or your mirror.
      - It must be fully qualified (registry host, repository, tag or digest) so that no node resolves a short
        name through its own C(registries.conf); the collection names no registry, so there is no default.
      - Pin a digest (V(<registry>/ubi9/ubi-minimal@sha256:<digest>)); a tag can change under you and gives a
        warning.
    type: str
    required: true
  timeout:
    description: Seconds to wait for every pod to run and print its kernel.
    type: int
    default: 300
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
attributes:
  check_mode:
    support: full
    details: Nothing is created in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: It leaves nothing behind that it created, so running it again does the same.
"""

EXAMPLES = r"""
- name: Run a sandboxed pod on every node of the kata runtime class
  sandboxed.containers.verify:
    runtime_class_name: kata

- name: Check two nodes with a pinned image from a mirror
  sandboxed.containers.verify:
    nodes: [worker-0, worker-1]
    image: mirror.example.com/ubi9/ubi-minimal@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""

RETURN = r"""
nodes:
  description:
    - Per node, whether its pod ran in a VM, its phase, the overhead admission set and the reason of a failure.
    - C(kernel) is what the pod printed (C(release), C(boot_id)), C(node_kernel) what the node reports; C(null)
      when the pod never ran.
  returned: success
  type: dict
  sample: {"worker-0": {"ok": true, "phase": "Running", "overhead": {"cpu": "250m", "memory": "350Mi"},
                        "kernel": {"release": "5.14.0-570.70.1.el9_6.x86_64",
                                   "boot_id": "1d4ae0ac-5ea1-4dd3-9c6b-6c3c0d6c7a53"},
                        "node_kernel": {"release": "5.14.0-570.70.1.el9_6.x86_64",
                                        "boot_id": "7c808571-e00e-48a6-989b-8b32fff48948"},
                        "reason": ""}}
namespace_created:
  description: Whether verify created the namespace (and so deleted it at the end).
  returned: success
  type: bool
"""

import re
import time

from ansible_collections.sandboxed.containers.plugins.module_utils._image import image_problem
from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import (
    Cluster,
    ClusterError,
    run_module,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_RUNTIME_CLASS,
    RUNTIME_CLASS_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import matches

LABEL = "sandboxed.containers/verify"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "sandboxed.containers"
# What marks the namespace as verify's own: the admission policy exempts verify pods only where it is set, and
# verify uses no namespace without it.
NAMESPACE_LABELS = {LABEL: "true", MANAGED_BY: MANAGER}
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
BOOT_ID = "/proc/sys/kernel/random/boot_id"
# The pod prints its kernel's release and boot ID, then stays up long enough to be read.
SCRIPT = f"uname -r; cat {BOOT_ID}; sleep 30"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def pod_name(node: str) -> str:
    return ("verify-" + re.sub(r"[^a-z0-9-]", "-", node.lower()))[:63].rstrip("-")


# OpenShift's SCC admission picks the usable SCC of highest priority: for a cluster administrator that is anyuid,
# which injects no user, so an image that runs as root would meet runAsNonRoot and the kubelet would refuse it.
# Pinning restricted-v2 (the annotation exists from OpenShift 4.14) gives the pod a user from the namespace's range
# whoever creates it (openshift/apiserver-library-go sccadmission).
REQUIRED_SCC = {"openshift.io/required-scc": "restricted-v2"}


def pod(node: str, p: dict) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name(node), "namespace": p["namespace"], "labels": {LABEL: "true"},
                     "annotations": dict(REQUIRED_SCC)},
        "spec": {
            "runtimeClassName": p["runtime_class_name"],
            "nodeSelector": {"kubernetes.io/hostname": node},
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            # The pod needs no API access: a token in a sandboxed pod would only be something to steal.
            "automountServiceAccountToken": False,
            "containers": [{
                "name": "verify", "image": p["image"], "command": ["sh", "-c", SCRIPT],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            }],
        },
    }


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {**NAMESPACE_LABELS, **RESTRICTED}}}


def foreign_namespace(name: str, labels: dict | None) -> str | None:
    """Why verify must not use an existing namespace, or None if it is verify's own."""
    labels = labels or {}
    missing = [f"{k}={v}" for k, v in NAMESPACE_LABELS.items() if labels.get(k) != v]
    if not missing:
        return None
    return (f"namespace {name} exists but sandboxed.containers did not create it (it lacks the labels "
            f"{', '.join(missing)}), so verify will not run its pods there: whoever made it controls it, and the "
            f"admission policy lets verify pods through only in verify's own namespace. Delete it "
            f"(oc delete namespace {name}) and run verify again, which creates it and deletes it afterwards; or "
            "let the automation_access role create it (sandboxed_containers_automation_verify: true); or choose "
            "another sandboxed_containers_verify_namespace")


def parse_kernel(log: str) -> dict | None:
    """The release and boot ID the pod printed, or None while they are not both there."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    if len(lines) < 2 or not UUID.match(lines[1].lower()):
        return None
    return {"release": lines[0], "boot_id": lines[1].lower()}


def node_kernel(node: dict) -> dict:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return {"release": info.get("kernelVersion") or "", "boot_id": (info.get("bootID") or "").lower()}


def isolation_problem(pod_kernel: dict, host: dict) -> str | None:
    """Why the pod's kernel shows it did not run in a VM, or None.

    A container of runc or crun shares the node's kernel and reads its boot ID, which the kubelet reports as
    nodeInfo.bootID; a VM boots a kernel of its own, with a boot ID of its own. The release is no proof either
    way: the guest kernel of OpenShift sandboxed containers is built from the node's (same uname -r)."""
    if not host["boot_id"]:
        return "the node reports no boot ID (status.nodeInfo.bootID), so the pod's kernel cannot be told apart"
    if pod_kernel["boot_id"] == host["boot_id"]:
        return (f"the pod ran on the node's own kernel ({pod_kernel['release']}, boot ID {host['boot_id']}), not in "
                "a VM: the runtime handler of the RuntimeClass does not start sandboxed containers on this node; "
                "check the node's CRI-O runtime table for the handler (runtime_type must be vm)")
    return None


def failure_reason(cluster: Cluster, namespace: str, name: str) -> str | None:
    """The last warning event of a pod, or why it cannot be scheduled."""
    events = cluster.list("v1", "Event", namespace=namespace, field_selector=f"involvedObject.name={name}")
    warnings = [e for e in events if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    for e in reversed(warnings):
        if e.get("reason") in ("FailedCreatePodSandBox", "FailedScheduling", "Failed", "FailedMount"):
            return f"{e.get('reason')}: {e.get('message')}"
    return None


def read_log(cluster: Cluster, name: str, namespace: str) -> str:
    """The pod's log (pods/log, which the API server reads from the node's kubelet)."""
    res = cluster.resource("v1", "Pod")
    with cluster.errors(f"cannot read the log of pod {namespace}/{name}"):
        resp = res.log.get(name=name, namespace=namespace, serialize=False, query_params=[("container", "verify")])
    data = getattr(resp, "data", resp)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


def prepare_namespace(cluster: Cluster, p: dict) -> bool:
    """Verify's namespace: waits out an earlier run's, refuses a foreign one, creates a missing one (True)."""
    ns = cluster.get("v1", "Namespace", p["namespace"])
    deadline = time.monotonic() + p["timeout"]
    while ns is not None and (ns.get("status") or {}).get("phase") == "Terminating":
        # The namespace of an earlier run is still going away.
        if time.monotonic() > deadline:
            raise ClusterError(f"namespace {p['namespace']} is still terminating after {p['timeout']} s")
        time.sleep(0.5)
        ns = cluster.get("v1", "Namespace", p["namespace"])
    if ns is not None:
        labels = ns["metadata"].get("labels") or {}
        problem = foreign_namespace(p["namespace"], labels)
        if problem:
            raise ClusterError(problem)
        weaker = sorted(k for k, v in RESTRICTED.items() if labels.get(k) != v)
        if weaker:
            cluster.task.warn(f"namespace {p['namespace']} is not labelled for the restricted Pod Security "
                              f"profile ({', '.join(f'{k}=restricted' for k in weaker)} missing); verify's pods "
                              "comply with it, label the namespace so that nothing else runs there with more")
        return False
    if cluster.task.check_mode:
        return False
    cluster.create(namespace(p["namespace"]))
    return True


def check(cluster: Cluster) -> dict:
    """Checks the image and the nodes, prepares the namespace, runs one pod per node and tells from each pod's
    log whether it ran in a VM; every pod, and a namespace it created, goes at the end whatever the outcome."""
    p = cluster.task.params
    problem = image_problem(p["image"])
    if problem:
        raise ClusterError(f"{problem}; nothing was created")
    if "@sha256:" not in p["image"]:
        cluster.task.warn(f"the verify image {p['image']} is a tag, which can change under you; pin a digest "
                          "(<registry>/<repository>@sha256:<digest>)")
    all_nodes, nodes = chosen_nodes(cluster, p)
    created_ns = prepare_namespace(cluster, p)  # refuses a foreign namespace before any pod exists
    if cluster.task.check_mode:
        return {"changed": False, "namespace_created": False,
                "nodes": {n: {"ok": None, "phase": None, "reason": "check mode"} for n in nodes}}
    try:
        results = run_pods(cluster, p, nodes)
        # The nodes as they are now: a node that rebooted meanwhile has a new boot ID.
        now = {n["metadata"]["name"]: n for n in cluster.list("v1", "Node")}
        for n, r in results.items():
            if r.get("kernel") is None:
                continue
            r["node_kernel"] = node_kernel(now.get(n) or all_nodes[n])
            problem = isolation_problem(r["kernel"], r["node_kernel"])
            if problem:
                r.update(ok=False, reason=problem)
    finally:
        for n in nodes:
            cluster.delete("v1", "Pod", pod_name(n), p["namespace"])
        if created_ns:
            cluster.delete("v1", "Namespace", p["namespace"])
    failed = {n: r for n, r in results.items() if not r["ok"]}
    out = {"changed": False, "namespace_created": created_ns, "nodes": dict(sorted(results.items()))}
    if failed:
        out["failed"] = True
        out["msg"] = "sandboxed pods do not run on " + "; ".join(
            f"{n}: {r['reason']}" for n, r in sorted(failed.items()))
    return out


def chosen_nodes(cluster: Cluster, p: dict) -> tuple[dict[str, dict], list[str]]:
    """Every node by name, and the nodes to verify: those given, else those the RuntimeClass schedules onto."""
    rc = cluster.get(RUNTIME_CLASS_API, "RuntimeClass", p["runtime_class_name"])
    if rc is None:
        raise ClusterError(f"RuntimeClass {p['runtime_class_name']} does not exist; install first")
    all_nodes = {n["metadata"]["name"]: n for n in cluster.list("v1", "Node")}
    nodes = p["nodes"]
    if nodes:
        unknown = sorted(set(nodes) - set(all_nodes))
        if unknown:
            raise ClusterError(f"no such nodes: {', '.join(unknown)}; the nodes are {', '.join(sorted(all_nodes))}")
        nodes = sorted(set(nodes))
    else:
        sel = {"matchLabels": ((rc.get("scheduling") or {}).get("nodeSelector") or {})}
        nodes = sorted(n for n, obj in all_nodes.items() if matches(sel, obj["metadata"].get("labels")))
    if not nodes:
        raise ClusterError(f"no node matches the scheduling of RuntimeClass {p['runtime_class_name']}")
    return all_nodes, nodes


def run_pods(cluster: Cluster, p: dict, nodes: list[str]) -> dict[str, dict]:
    """One pod per node, each followed until it has told its kernel, failed, or the timeout passed."""
    results: dict[str, dict] = {}
    # Pods from an interrupted run would hide the result of this one.
    for n in nodes:
        cluster.delete("v1", "Pod", pod_name(n), p["namespace"])
    for n in nodes:
        cluster.create(pod(n, p))
    deadline = time.monotonic() + p["timeout"]
    pending = set(nodes)
    phases: dict[str, str | None] = {}
    while pending and time.monotonic() < deadline:
        for n in sorted(pending):
            done, phases[n] = check_pod(cluster, p, n)
            if done is not None:
                results[n] = done
                pending.discard(n)
        if pending:
            time.sleep(1)
    for n in pending:
        if phases.get(n) == "Running":
            reason = "it runs but printed no kernel release and boot ID; use an image with sh, uname and cat"
        else:
            reason = failure_reason(cluster, p["namespace"], pod_name(n)) or "no event explains it"
        results[n] = {"ok": False, "phase": phases.get(n) or "Pending", "kernel": None, "node_kernel": None,
                      "reason": f"not running after {p['timeout']} s: {reason}"}
    return results


def check_pod(cluster: Cluster, p: dict, node: str) -> tuple[dict | None, str | None]:
    """The result for one node's pod (None while it is still starting or has not printed its kernel), and its
    phase."""
    name = pod_name(node)
    obj = cluster.get("v1", "Pod", name, p["namespace"]) or {}
    phase = (obj.get("status") or {}).get("phase")
    overhead = (obj.get("spec") or {}).get("overhead")

    def result(ok: bool, reason: str = "", kernel: dict | None = None) -> tuple[dict, str | None]:
        return {"ok": ok, "phase": phase, "overhead": overhead, "kernel": kernel, "node_kernel": None,
                "reason": reason}, phase

    if phase in ("Running", "Succeeded"):
        try:
            kernel = parse_kernel(read_log(cluster, name, p["namespace"]))
        except ClusterError as e:
            return result(False, f"the pod runs but its log cannot be read ({e}); verify needs get on pods/log "
                                 f"in namespace {p['namespace']} (the automation_access role grants it)")
        if kernel is not None:
            return result(True, kernel=kernel)
        if phase == "Succeeded":
            return result(False, "the pod ended without printing its kernel release and boot ID; use an image "
                                 "with sh, uname and cat")
        return None, phase  # it has not printed them yet
    reason = failure_reason(cluster, p["namespace"], name)
    # The kubelet reports a sandbox it cannot create, or a container it refuses (CreateContainerConfigError,
    # event reason Failed), and retries for ever: either is the answer.
    if phase == "Failed" or (reason and reason.startswith(("FailedCreatePodSandBox", "Failed:"))):
        return result(False, reason or (obj.get("status") or {}).get("message") or "the pod failed")
    return None, phase


ARGUMENT_SPEC = {
    "runtime_class_name": {"type": "str", "default": DEFAULT_RUNTIME_CLASS},
    "nodes": {"type": "list", "elements": "str", "default": []},
    "namespace": {"type": "str", "default": "sandboxed-containers-verify"},
    "image": {"type": "str", "required": True},
    "timeout": {"type": "int", "default": 300},
}


def main() -> None:
    run_module(ARGUMENT_SPEC, check)


if __name__ == "__main__":
    main()
