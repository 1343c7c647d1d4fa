#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: verify
short_description: Prove that sandboxed pods run on each chosen node
version_added: 1.0.0
description:
  - Starts one short-lived pod with the runtime class on each node (pinned with C(kubernetes.io/hostname), so the
    RuntimeClass's own scheduling applies too), waits until each runs, reports per node and deletes the pods,
    also when something fails.
  - A node where the pod cannot run is named with the reason, for example the sandbox error CRI-O reports when
    the node lacks the runtime handler (C(FailedCreatePodSandBox)), or why the scheduler cannot place it there.
  - The pods require the C(restricted-v2) SCC (annotation C(openshift.io/required-scc)), so that they run as a
    non-root user from the namespace's range whoever creates them; a cluster administrator would otherwise get
    C(anyuid), and an image that runs as root would be refused by the kubelet.
  - The namespace is created when missing and deleted afterwards if this module created it.
  - In check mode nothing is created; the result lists the nodes that would be checked.
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
    description: Namespace of the pods.
    type: str
    default: sandboxed-containers-verify
  image:
    description: Image of the pods; any image with C(sh). Use one your cluster can pull.
    type: str
    default: ubi9/ubi-minimal:latest
  timeout:
    description: Seconds to wait for every pod to run.
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
    details: It leaves nothing behind, so running it again does the same.
"""

EXAMPLES = r"""
- name: Run a sandboxed pod on every node of the kata runtime class
  sandboxed.containers.verify:
    runtime_class_name: kata
"""

RETURN = r"""
nodes:
  description: Per node, whether its pod ran, its phase, the overhead admission set and the reason of a failure.
  returned: success
  type: dict
  sample: {"worker-0": {"ok": true, "phase": "Running", "overhead": {"cpu": "250m", "memory": "350Mi"}, "reason": ""}}
"""

import re
import time

from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, new_module, run
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import matches

LABEL = "sandboxed.containers/verify"


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
            "containers": [{
                "name": "verify", "image": p["image"], "command": ["sh", "-c", "uname -r; sleep 30"],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            }],
        },
    }


def failure_reason(cluster: Cluster, namespace: str, name: str) -> str | None:
    """The last warning event of a pod, or why it cannot be scheduled."""
    events = cluster.list("v1", "Event", namespace=namespace, field_selector=f"involvedObject.name={name}")
    warnings = [e for e in events if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    for e in reversed(warnings):
        if e.get("reason") in ("FailedCreatePodSandBox", "FailedScheduling", "Failed", "FailedMount"):
            return f"{e.get('reason')}: {e.get('message')}"
    return None


def check(cluster: Cluster) -> dict:
    p = cluster.module.params
    rc = cluster.get("node.k8s.io/v1", "RuntimeClass", p["runtime_class_name"])
    if rc is None:
        raise ClusterError(f"RuntimeClass {p['runtime_class_name']} does not exist; install first")
    nodes = p["nodes"]
    if not nodes:
        sel = {"matchLabels": ((rc.get("scheduling") or {}).get("nodeSelector") or {})}
        nodes = sorted(n["metadata"]["name"] for n in cluster.list("v1", "Node")
                       if matches(sel, n["metadata"].get("labels")))
    if not nodes:
        raise ClusterError(f"no node matches the scheduling of RuntimeClass {p['runtime_class_name']}")
    if cluster.module.check_mode:
        return {"changed": False, "nodes": {n: {"ok": None, "phase": None, "reason": "check mode"} for n in nodes}}

    created_ns = False
    ns = cluster.get("v1", "Namespace", p["namespace"])
    deadline = time.monotonic() + p["timeout"]
    while ns is not None and (ns.get("status") or {}).get("phase") == "Terminating":
        # The namespace of an earlier run is still going away.
        if time.monotonic() > deadline:
            raise ClusterError(f"namespace {p['namespace']} is still terminating after {p['timeout']} s")
        time.sleep(0.5)
        ns = cluster.get("v1", "Namespace", p["namespace"])
    if ns is None:
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": p["namespace"]}})
        created_ns = True
    results: dict[str, dict] = {}
    try:
        # Pods from an interrupted run would hide the result of this one.
        for n in nodes:
            cluster.delete("v1", "Pod", pod_name(n), p["namespace"])
        for n in nodes:
            cluster.create(pod(n, p))
        deadline = time.monotonic() + p["timeout"]
        pending = set(nodes)
        while pending and time.monotonic() < deadline:
            for n in sorted(pending):
                obj = cluster.get("v1", "Pod", pod_name(n), p["namespace"]) or {}
                phase = (obj.get("status") or {}).get("phase")
                overhead = (obj.get("spec") or {}).get("overhead")
                if phase in ("Running", "Succeeded"):
                    results[n] = {"ok": True, "phase": phase, "overhead": overhead, "reason": ""}
                    pending.discard(n)
                    continue
                reason = failure_reason(cluster, p["namespace"], pod_name(n))
                # The kubelet reports a sandbox it cannot create, or a container it refuses (CreateContainerConfigError,
                # event reason Failed), and retries for ever: either is the answer.
                if phase == "Failed" or (reason and reason.startswith(("FailedCreatePodSandBox", "Failed:"))):
                    results[n] = {"ok": False, "phase": phase, "overhead": overhead,
                                  "reason": reason or (obj.get("status") or {}).get("message") or "the pod failed"}
                    pending.discard(n)
            if pending:
                time.sleep(1)
        for n in pending:
            reason = failure_reason(cluster, p["namespace"], pod_name(n)) or "no event explains it"
            results[n] = {"ok": False, "phase": "Pending",
                          "reason": f"not running after {p['timeout']} s: {reason}"}
    finally:
        for n in nodes:
            cluster.delete("v1", "Pod", pod_name(n), p["namespace"])
        if created_ns:
            cluster.delete("v1", "Namespace", p["namespace"])
    failed = {n: r for n, r in results.items() if not r["ok"]}
    out = {"changed": False, "nodes": dict(sorted(results.items()))}
    if failed:
        out["failed"] = True
        out["msg"] = "sandboxed pods do not run on " + "; ".join(
            f"{n}: {r['reason']}" for n, r in sorted(failed.items()))
    return out


def main() -> None:
    module = new_module(
        {
            "runtime_class_name": {"type": "str", "default": "kata"},
            "nodes": {"type": "list", "elements": "str", "default": []},
            "namespace": {"type": "str", "default": "sandboxed-containers-verify"},
            "image": {"type": "str", "default": "ubi9/ubi-minimal:latest"},
            "timeout": {"type": "int", "default": 300},
        },
        supports_check_mode=True,
    )
    run(module, check)


if __name__ == "__main__":
    main()
