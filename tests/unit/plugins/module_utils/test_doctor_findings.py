"""The doctor's diagnoses, each on the objects of its stuck state, and a healthy cluster that has none."""

from __future__ import annotations

import json

from ansible_collections.sandboxed.containers.plugins.module_utils._doctor import (
    DIAGNOSES,
    Facts,
    diagnose,
    has_handler,
    selected_nodes,
    summary,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DESIRED_DRAIN,
    HANDLER_LABEL,
    LAST_APPLIED_DRAIN,
    POST_CONFIG_ACTION,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._status import policy_summary
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import node, pool

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
T0 = "2027-01-15T08:00:00Z"
EARLIER = "2027-01-15T07:50:00Z"  # ten minutes before NOW


def kata_node(name, *roles, handlers=("", "runc", "crun", "kata"), **kw):
    n = node(name, *roles, **kw)
    n["metadata"]["labels"][HANDLER_LABEL] = "kata" if "kata" in handlers else None
    n["status"] = {"conditions": [{"type": "Ready", "status": "True"}],
                   "runtimeHandlers": [{"name": h, "features": {}} for h in handlers]}
    return n


def workers():
    return [kata_node("worker-0", "worker"), kata_node("worker-1", "worker"), kata_node("master-0", "master")]


def pools():
    return [pool("master", target="rendered-master-1", counts=(1, 1, 1, 0)),
            pool("worker", target="rendered-worker-1", counts=(2, 2, 2, 0))]


def kata_rc(name="kata", selector=None, handler="kata"):
    rc = {"metadata": {"name": name}, "handler": handler}
    if selector is not False:
        rc["scheduling"] = {"nodeSelector": selector or {HANDLER_LABEL: "kata"}}
    return rc


def facts(**kw):
    kw.setdefault("nodes", workers())
    kw.setdefault("pools", pools())
    kw.setdefault("runtime_classes", [kata_rc()])
    return Facts(now=NOW, **kw)


def ids(findings):
    return [f["id"] for f in findings]


def test_a_healthy_cluster_has_no_finding():
    assert diagnose(facts()) == []
    assert summary([]) == {"error": 0, "warning": 0}


def test_a_drain_held_by_a_budget_names_node_pod_and_budget():
    nodes = workers()
    nodes[1]["metadata"]["annotations"].update({DESIRED_DRAIN: "drain-rendered-worker-2",
                                               LAST_APPLIED_DRAIN: "uncordon-rendered-worker-1"})
    web = {"metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"},
                        "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "controller": True}]},
           "spec": {"nodeName": "worker-1"}, "status": {"phase": "Running"}}
    pdb = {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"selector": {"matchLabels": {"app": "web"}}},
           "status": {"disruptionsAllowed": 0}}
    [f] = diagnose(facts(nodes=nodes, pods=[web], budgets=[pdb]))
    assert (f["id"], f["severity"], f["subject"]) == ("drain-held", "error", "node worker-1")
    assert "pod shop/web-1" in f["evidence"] and "PodDisruptionBudget shop/web" in f["evidence"]
    assert "oc edit pdb -n shop web" in f["fix"]
    # Once the drain is done (lastAppliedDrain caught up), or the budget allows a disruption: nothing.
    nodes[1]["metadata"]["annotations"][LAST_APPLIED_DRAIN] = "drain-rendered-worker-2"
    assert diagnose(facts(nodes=nodes, pods=[web], budgets=[pdb])) == []
    nodes[1]["metadata"]["annotations"][LAST_APPLIED_DRAIN] = "uncordon-rendered-worker-1"
    pdb["status"]["disruptionsAllowed"] = 1
    assert diagnose(facts(nodes=nodes, pods=[web], budgets=[pdb])) == []


def test_a_degraded_node_shows_the_daemons_reason():
    nodes = workers()
    nodes[0] = kata_node("worker-0", "worker", state="Degraded", reason="failed to apply: disk full")
    [f] = diagnose(facts(nodes=nodes))
    assert (f["id"], f["subject"]) == ("node-degraded", "node worker-0")
    assert "Degraded: failed to apply: disk full" in f["evidence"]


def test_a_node_not_ready_after_its_reboot_past_the_timeout():
    nodes = workers()
    n = kata_node("worker-1", "worker", state="Working", current="rendered-worker-1", desired="rendered-worker-2")
    n["metadata"]["annotations"][POST_CONFIG_ACTION] = "Rebooting"
    n["status"]["conditions"] = [{"type": "Ready", "status": "Unknown", "lastTransitionTime": EARLIER,
                                  "message": "Kubelet stopped posting node status."}]
    nodes[1] = n
    [f] = diagnose(facts(nodes=nodes, reboot_timeout=300))
    assert (f["id"], f["subject"]) == ("node-not-ready-after-reboot", "node worker-1")
    assert "Ready=Unknown (Kubelet stopped posting node status.) for 600 s" in f["evidence"]
    assert "journalctl" in f["fix"]
    # An ordinary reboot, shorter than the timeout, is no finding.
    assert diagnose(facts(nodes=nodes, reboot_timeout=900)) == []


def test_a_node_in_two_custom_pools_names_both():
    nodes = workers()
    nodes[0]["metadata"]["labels"].update({"node-role.kubernetes.io/a": "", "node-role.kubernetes.io/b": ""})
    [f] = diagnose(facts(nodes=nodes, pools=[*pools(), pool("a"), pool("b")]))
    assert (f["id"], f["subject"]) == ("node-in-two-custom-pools", "node worker-0")
    assert "custom pools a, b" in f["evidence"] and "belongs to 2 custom roles" in f["evidence"]


def test_a_paused_pool_is_an_error_with_nodes_behind_and_a_warning_without():
    ps = pools()
    ps[1] = pool("worker", target="rendered-worker-2", status_config="rendered-worker-1", counts=(2, 0, 2, 0),
                 paused=True)
    [f] = diagnose(facts(pools=ps))
    assert (f["id"], f["severity"], f["subject"]) == ("pool-paused", "error", "pool worker")
    assert "2 of its 2 nodes are not on rendered-worker-2" in f["evidence"] and "oc patch mcp/worker" in f["fix"]
    ps[1] = pool("worker", target="rendered-worker-1", counts=(2, 2, 2, 0), paused=True)
    assert [(f["id"], f["severity"]) for f in diagnose(facts(pools=ps))] == [("pool-paused", "warning")]


def test_a_pod_terminating_on_a_node_without_its_handler():
    nodes = workers()
    nodes[0] = kata_node("worker-0", "worker", handlers=("", "runc", "crun"))
    pod = {"metadata": {"name": "app", "namespace": "t", "deletionTimestamp": EARLIER, "finalizers": ["x/hold"]},
           "spec": {"nodeName": "worker-0", "runtimeClassName": "kata"}, "status": {"phase": "Running"}}
    [f] = [x for x in diagnose(facts(nodes=nodes, pods=[pod])) if x["id"] == "pod-terminating-without-handler"]
    assert f["subject"] == "pod t/app"
    assert "600 s past its deletion time" in f["evidence"] and "does not have the handler kata" in f["evidence"]
    assert "finalizers x/hold" in f["evidence"] and "--force --grace-period=0" in f["fix"]
    # On a node with the handler, or before its deletion time: nothing.
    pod["spec"]["nodeName"] = "worker-1"
    assert "pod-terminating-without-handler" not in ids(diagnose(facts(nodes=nodes, pods=[pod])))
    pod["spec"]["nodeName"], pod["metadata"]["deletionTimestamp"] = "worker-0", "2027-01-15T08:00:30Z"
    assert "pod-terminating-without-handler" not in ids(diagnose(facts(nodes=nodes, pods=[pod])))


def test_a_kataconfig_and_the_leftovers_of_the_operator_and_kata_deploy():
    nodes = workers()
    nodes[1]["metadata"]["labels"]["katacontainers.io/kata-runtime"] = "true"
    leftover = {"metadata": {"name": "50-enable-sandboxed-containers-extension",
                             "labels": {"machineconfiguration.openshift.io/role": "worker"}},
                "spec": {"extensions": ["sandboxed-containers"]}}
    found = diagnose(facts(nodes=nodes, kataconfigs=["example-kataconfig"], machine_configs=[leftover]))
    assert [(f["id"], f["subject"]) for f in found] == [
        ("kataconfig", "KataConfig example-kataconfig"),
        ("kata-leftover", "MachineConfig 50-enable-sandboxed-containers-extension"),
        ("kata-leftover", "kata-deploy")]
    assert "oc delete machineconfig 50-enable-sandboxed-containers-extension" in found[1]["fix"]
    assert "worker-1" in found[2]["evidence"]


def test_a_policy_not_in_force_and_no_policy_at_all():
    record = {"modes": ["namespaces"], "allowed_namespaces": ["team-a"]}
    installed = {("ValidatingAdmissionPolicy", "sandboxed-containers-runtime-class"): {"spec": {}},
                 ("ValidatingAdmissionPolicyBinding", "sandboxed-containers-runtime-class"):
                     {"spec": {"validationActions": ["Deny"]}},
                 ("ValidatingAdmissionPolicy", "sandboxed-containers-runtime-class-handler"): {"spec": {}},
                 ("ValidatingAdmissionPolicyBinding", "sandboxed-containers-runtime-class-handler"): None}
    [f] = diagnose(facts(policy=policy_summary(record, installed, [])))
    assert (f["id"], f["subject"]) == ("policy-not-in-force", "admission policy")
    assert "ValidatingAdmissionPolicyBinding sandboxed-containers-runtime-class-handler is missing" in f["evidence"]
    assert diagnose(facts(policy=policy_summary(None, {}, []))) == []


def test_a_runtime_class_that_lets_pods_onto_nodes_without_the_handler():
    nodes = workers()
    nodes[0] = kata_node("worker-0", "worker", handlers=("", "runc", "crun"))
    nodes[2]["spec"] = {"taints": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]}
    other = kata_rc("other", selector={"node-role.kubernetes.io/worker": ""})
    [f] = diagnose(facts(nodes=nodes, runtime_classes=[kata_rc(), other]))
    assert (f["id"], f["subject"]) == ("runtime-class-without-handler", "RuntimeClass other")
    assert "onto worker-0, which lack the kata handler" in f["evidence"]
    # No scheduling at all: every node it tolerates (the tainted master is not among them).
    assert selected_nodes(kata_rc("all", selector=False), nodes) == nodes[:2]


def test_has_handler_falls_back_to_the_label_where_nodes_do_not_report_handlers():
    n = node("worker-0", "worker")
    assert not has_handler(n, "kata")
    n["metadata"]["labels"][HANDLER_LABEL] = "kata"
    assert has_handler(n, "kata")


def test_every_diagnosis_has_an_id_and_the_findings_are_json():
    assert len(DIAGNOSES) == len(set(DIAGNOSES)) == 10
    nodes = workers()
    nodes[0] = kata_node("worker-0", "worker", state="Degraded", reason="x")
    found = diagnose(facts(nodes=nodes, kataconfigs=["k"]))
    assert json.loads(json.dumps(found)) == found
    assert all(set(f) == {"id", "severity", "subject", "evidence", "fix"} for f in found)
