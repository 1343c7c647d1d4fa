from __future__ import annotations

import ast
import inspect
import re

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils import _preflight
from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import data_url
from ansible_collections.sandboxed.containers.plugins.module_utils._names import MANAGED_BY, ROLE_LABEL, node_role_label
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import parse_release
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    Facts,
    PreflightError,
    Settings,
    Target,
    decide,
    decide_uninstall,
    object_changes,
    pools_needed,
    virtualization_capable,
)
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN, node, pool

VIRT = {"feature.node.kubernetes.io/cpu-cpuid.VMX": "true", "feature.node.kubernetes.io/runtime.kata": "true"}
NO_VIRT = {"feature.node.kubernetes.io/kernel-version.major": "5"}
BASE = [pool("master"), pool("worker")]


def standard(**extra_labels):
    return [node(f"master-{i}", "master", **{"topology.kubernetes.io/zone": f"z{i}"}) for i in range(3)] + [
        node(f"worker-{i}", "worker", **VIRT, **extra_labels.get(f"worker-{i}", {})) for i in range(3)]


def settings(**kw) -> Settings:
    return Settings(crio_dropin=DROPIN, **kw)


def facts(nodes, pools=None, **kw) -> Facts:
    return Facts(nodes=nodes, pools=BASE if pools is None else pools, **kw)


def test_default_selector_targets_the_worker_pool():
    d = decide(settings(), facts(standard()))
    assert (d.topology, d.target_pool, d.custom_pool, d.role) == ("standard", "worker", False, "worker")
    assert d.chosen_nodes == ["worker-0", "worker-1", "worker-2"]
    assert d.plan["reboot"] == d.chosen_nodes


def test_selector_targets_a_custom_pool_with_the_matching_workers():
    nodes = standard(**{"worker-0": {"kata": "yes"}, "worker-2": {"kata": "yes"}})
    d = decide(settings(node_selector={"matchLabels": {"kata": "yes"}}), facts(nodes))
    assert (d.target_pool, d.custom_pool, d.role) == ("kata-oc", True, "kata-oc")
    assert d.chosen_nodes == ["worker-0", "worker-2"]
    assert d.plan["label"] == d.plan["reboot"] == ["worker-0", "worker-2"]


def test_compact_cluster_targets_master_and_says_so():
    nodes = [node(f"master-{i}", "master", "worker", **VIRT) for i in range(3)]
    d = decide(settings(), facts(nodes))
    assert (d.topology, d.target_pool, d.role) == ("compact", "master", "master")
    assert "compact cluster: the worker pool has no machines" in d.messages[0]
    assert d.plan["reboot"] == ["master-0", "master-1", "master-2"]
    with pytest.raises(PreflightError, match="compact cluster: its workers are control-plane nodes"):
        decide(settings(node_selector={"matchLabels": {"a": "b"}}), facts(nodes))


def test_a_canary_is_refused_on_compact_clusters_where_every_node_is_in_the_master_pool():
    nodes = [node(f"master-{i}", "master", "worker", **VIRT) for i in range(3)]
    with pytest.raises(PreflightError, match=r"compact cluster: every node is in the master pool.*"
                                             r"sandboxed_containers_canary 1 .* not allowed here"):
        decide(settings(canary=1), facts(nodes))


def test_a_bad_canary_is_refused_before_the_cluster_is_read():
    with pytest.raises(PreflightError, match="sandboxed_containers_wave_size 'all' is not allowed"):
        _preflight.validate_settings(settings(wave_size="all"))


def test_canary_and_waves_through_the_custom_pool():
    nodes = standard(**{f"worker-{i}": {"kata": "yes"} for i in range(3)})
    d = decide(settings(node_selector={"matchLabels": {"kata": "yes"}}, canary=1, wave_size=1), facts(nodes))
    assert [(w["name"], w["nodes"], w["labels"]) for w in d.waves] == [
        ("canary", ["worker-0"], ["worker-0"]), ("wave 1", ["worker-1"], ["worker-0", "worker-1"]),
        ("wave 2", ["worker-2"], ["worker-0", "worker-1", "worker-2"])]
    assert d.messages[-1].startswith("Nodes move into pool kata-oc in waves")
    assert decide(settings(node_selector={"matchLabels": {"kata": "yes"}}), facts(nodes)).waves == []


def test_on_the_worker_path_a_canary_takes_the_custom_pool_with_every_worker():
    d = decide(settings(canary=1), facts(standard()))
    assert (d.target_pool, d.custom_pool, d.role, d.transition) == ("kata-oc", True, "kata-oc", "apply")
    assert d.chosen_nodes == d.plan["label"] == d.plan["reboot"] == ["worker-0", "worker-1", "worker-2"]
    assert "need a custom pool: every worker (worker-0, worker-1, worker-2) is chosen through pool kata-oc" \
        in d.messages[0]
    assert [w["nodes"] for w in d.waves] == [["worker-0"], ["worker-1", "worker-2"]]


def test_a_change_under_nodes_already_in_the_pool_is_said_not_to_go_in_waves():
    cp = o.custom_pool("kata-oc")
    old = o.machine_config("kata-oc", DROPIN)
    nodes = standard(**{f"worker-{i}": {"kata": "yes", node_role_label("kata-oc"): ""} for i in range(3)})
    new_dropin = DROPIN.replace("/run/vc", "/run/vc2")
    d = decide(Settings(crio_dropin=new_dropin, node_selector={"matchLabels": {"kata": "yes"}}, canary=1),
               facts(nodes, [*BASE, cp], machine_configs=[old], current_mc=old))
    assert d.plan["reboot"] == ["worker-0", "worker-1", "worker-2"]
    assert all(w["moved"] for w in d.waves)
    assert "every chosen node is in pool kata-oc already, so this change reaches them maxUnavailable at a time" \
        in d.messages[-1]


def test_no_waves_when_the_nodes_move_without_a_reboot():
    # Installed on the worker pool: the custom pool inherits the worker MachineConfig, so the nodes move into it
    # with no content change (to_custom), and nothing is left for a canary to try.
    mc = o.machine_config("worker", DROPIN)
    d = decide(settings(canary=1), facts(standard(), machine_configs=[mc], current_mc=mc))
    assert d.transition == "to_custom"
    assert d.waves == []
    assert "move into pool kata-oc without a reboot, so they move at once" in d.messages[-1]


def test_single_node_cluster():
    d = decide(settings(), facts([node("sno-0", "master", "worker", **VIRT)]))
    assert (d.topology, d.target_pool, d.chosen_nodes) == ("sno", "master", ["sno-0"])


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"node_selector": {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}},
         "operator 'Equals' is not valid"),
        ({"node_selector": {"matchLabels": {"nothing": "matches"}}},
         "(nothing=matches) matches no worker node; the workers are worker-0, worker-1, worker-2"),
        ({"overhead": {"cpu": "250 millicores"}}, "overhead cpu '250 millicores' is not a Kubernetes quantity"),
        ({"pool_name": "worker"}, "is a pool of the MCO"),
        ({"pool_name": "Kata_OC"}, "must be a DNS label"),
        ({"max_unavailable": "150%"}, "must be a number of nodes (1 or more) or a percentage"),
        ({"max_unavailable": 0}, "must be a number of nodes (1 or more) or a percentage"),
        ({"crio_dropin": "[crio.runtime.runtimes.other]\nruntime_path='/x'\nruntime_type='vm'\n"},
         "no [crio.runtime.runtimes.kata] table"),
        ({"canary": -1}, "sandboxed_containers_canary -1 is not allowed"),
        ({"canary": 4}, "sandboxed_containers_canary 4 is larger than the 3 chosen nodes (worker-0, worker-1, "
                        "worker-2); allowed: 0 to 3"),
        ({"wave_size": 0}, "sandboxed_containers_wave_size 0 is not allowed"),
        ({"wave_size": "101%"}, "sandboxed_containers_wave_size '101%' is not allowed"),
        ({"wave_size": 4}, "sandboxed_containers_wave_size 4 is larger than the 3 chosen nodes"),
        ({"canary_verify": True, "verify_image": "registry.invalid/ubi9/ubi-minimal@sha256:" + "0" * 64},
         "sandboxed_containers_canary is 0 (no canary): set it to 1 or more"),
        ({"canary": 1, "canary_verify": True},
         "sandboxed_containers_canary_verify: set the verify image (sandboxed_containers_verify_image)"),
        ({"canary": 1, "canary_verify": True, "verify_image": "ubi9/ubi-minimal"},
         "sandboxed_containers_canary_verify: the verify image 'ubi9/ubi-minimal' is not fully qualified"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kw, message):
    s = Settings(**({"crio_dropin": DROPIN} | kw))
    with pytest.raises(PreflightError) as e:
        decide(s, facts(standard()))
    assert message in str(e.value)


def test_existing_kataconfig_is_refused():
    with pytest.raises(PreflightError, match="operator manages this cluster \\(KataConfig example-kataconfig\\)"):
        decide(settings(), facts(standard(), kataconfigs=["example-kataconfig"]))


def test_foreign_pool_with_our_name_is_refused():
    with pytest.raises(PreflightError, match=r"MachineConfigPool kata-oc exists and was not created by "
                                             r"sandboxed\.containers.*sandboxed_containers_adopt: true"):
        decide(settings(node_selector={"matchLabels": {"a": "b"}}), facts(standard(), [*BASE, pool("kata-oc")]))


def test_degraded_or_paused_target_pool_is_refused():
    degraded = pool("worker", conds={"Degraded": ("True", "", "Node worker-1 is reporting: boom")})
    with pytest.raises(PreflightError, match="pool worker is Degraded: Node worker-1 is reporting: boom"):
        decide(settings(), facts(standard(), [pool("master"), degraded]))
    with pytest.raises(PreflightError, match="pool worker is paused"):
        decide(settings(), facts(standard(), [pool("master"), pool("worker", paused=True)]))


def test_virtualization_check_fail_warn_ignore():
    nodes = standard()
    nodes[4]["metadata"]["labels"] = {**{k: v for k, v in nodes[4]["metadata"]["labels"].items()
                                         if not k.startswith("feature.")}, **NO_VIRT}
    assert virtualization_capable(nodes[4]) is False
    assert virtualization_capable(nodes[3]) is True
    assert virtualization_capable(node("bare", "worker")) is None
    with pytest.raises(PreflightError, match="nodes worker-1 are not virtualization-capable"):
        decide(settings(), facts(nodes))
    d = decide(settings(virtualization_check="warn"), facts(nodes))
    assert any("worker-1 are not virtualization-capable" in w for w in d.warnings)
    d = decide(settings(virtualization_check="ignore"), facts(nodes))
    assert d.warnings == []


def test_second_run_plans_no_reboot():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = standard(**{"worker-0": {"kata": "yes", node_role_label("kata-oc"): ""}})
    d = decide(settings(node_selector={"matchLabels": {"kata": "yes"}}),
               facts(nodes, [*BASE, cp], machine_configs=[mc], current_mc=mc))
    assert (d.plan["label"], d.plan["unlabel"], d.plan["reboot"], d.plan["moves"]) == ([], [], [], {})
    assert d.plan["handler"] == d.plan["handler_kept"] == ["worker-0"]


def arch(name: str, a: str, **labels) -> dict:
    n = node(name, "worker", **labels)
    n["metadata"]["labels"]["kubernetes.io/arch"] = a
    return n


def test_an_arm64_worker_is_refused_naming_it_and_s390x_is_accepted():
    masters = standard()[:3]
    nodes = [*masters, arch("worker-0", "amd64", **VIRT), arch("worker-1", "arm64"), arch("worker-2", "s390x",
             **{"feature.node.kubernetes.io/cpu-cpuid.SIE": "true"})]
    with pytest.raises(PreflightError) as e:
        decide(settings(), facts(nodes))
    assert "chosen nodes worker-1 (arm64) cannot run sandboxed containers" in str(e.value)
    assert "built for amd64 and s390x only" in str(e.value)
    assert "kubernetes.io/arch" in str(e.value)  # how to choose the nodes
    sel = {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "s390x"]}]}
    d = decide(settings(node_selector=sel), facts(nodes))
    assert d.chosen_nodes == ["worker-0", "worker-2"]  # s390x accepted, its SIE flag counts as virtualization
    sel = {"matchLabels": {"kubernetes.io/os": "linux"}}
    linux = [dict(n, metadata={**n["metadata"], "labels": {**n["metadata"]["labels"], "kubernetes.io/os": "linux"}})
             for n in nodes[3:]]
    d = decide(settings(node_selector=sel, unsupported_architecture="exclude"), facts([*masters, *linux]))
    assert d.chosen_nodes == ["worker-0", "worker-2"]
    assert any("left out worker-1 (arm64)" in w for w in d.warnings)


def test_virtualization_is_checked_as_each_architecture_reports_it():
    s390x = arch("z-0", "s390x", **{"feature.node.kubernetes.io/cpu-cpuid.VXRS": "true"})
    assert virtualization_capable(s390x) is False  # NFD labelled it, and no SIE
    s390x["metadata"]["labels"]["feature.node.kubernetes.io/cpu-cpuid.SIE"] = "true"
    assert virtualization_capable(s390x) is True
    no_flag = arch("p-0", "ppc64le", **{"feature.node.kubernetes.io/cpu-model.vendor_id": "IBM"})
    assert virtualization_capable(no_flag) is None  # NFD has no virtualization flag there: unknown, not incapable


@pytest.mark.parametrize(("os_id", "image", "extension"), [
    ("rhcos", "Red Hat Enterprise Linux CoreOS 9.6", "sandboxed-containers"),
    ("scos", "CentOS Stream CoreOS 9", "sandboxed-containers"),
    ("fedora", "Fedora CoreOS 39", "kata-containers"),
])
def test_the_extension_is_named_for_the_nodes_operating_system(os_id, image, extension):
    nodes = standard()
    for n in nodes:
        n["metadata"]["labels"]["node.openshift.io/os_id"] = os_id
        n["status"] = {"nodeInfo": {"osImage": image}}
    d = decide(settings(), facts(nodes, release=parse_release("4.15.2")))
    assert d.extension == extension
    changes = object_changes(current_mc=None, desired_mc=o.machine_config("worker", DROPIN, extensions=[extension]),
                             current_pool=None, desired_pool=None, current_rc=None,
                             desired_rc=o.runtime_class("kata", "kata", {"cpu": "1"}))
    assert f"MachineConfig 50-sandboxed-containers: created (role worker, extension {extension})" in changes


def test_an_operating_system_without_extensions_is_refused():
    nodes = standard()
    nodes[3]["status"] = {"nodeInfo": {"osImage": "Red Hat Enterprise Linux 8.10 (Ootpa)"}}
    with pytest.raises(PreflightError, match=r"node worker-0 runs Red Hat Enterprise Linux 8\.10 .*not a CoreOS"):
        decide(settings(), facts(nodes))


def test_a_policy_is_refused_where_the_release_does_not_serve_it():
    with pytest.raises(PreflightError) as e:
        decide(settings(policy_requested=True),
               facts(standard(), release=parse_release("4.16.12"), serves_admission_policy=False))
    assert "OpenShift serves from 4.17 (Kubernetes 1.30); this cluster runs OpenShift 4.16.12" in str(e.value)
    # No policy asked for: the release does not matter.
    decide(settings(), facts(standard(), release=parse_release("4.14.1"), serves_admission_policy=False))


@pytest.mark.parametrize(("kw", "message"), [
    ({"machine_configs": [{"metadata": {"name": "50-enable-sandboxed-containers-extension",
                                        "labels": {ROLE_LABEL: "worker", "app": "example-kataconfig"}},
                           "spec": {"extensions": ["sandboxed-containers"]}}]},
     "MachineConfig 50-enable-sandboxed-containers-extension (left by the OpenShift sandboxed containers operator"),
    ({"machine_configs": [{"metadata": {"name": "50-kata-crio-dropin", "labels": {ROLE_LABEL: "worker"}},
                           "spec": {"config": {"storage": {"files": [{
                               "path": "/etc/crio/crio.conf.d/50-kata.conf",
                               "contents": {"source": data_url(DROPIN)}}]}}}}]},
     "MachineConfig 50-kata-crio-dropin (role worker) already defines the CRI-O handler kata"),
    ({"container_runtime_configs": [{"metadata": {"name": "kata-crio-config"}}]},
     "the ContainerRuntimeConfig kata-crio-config left by the OpenShift sandboxed containers operator"),
    ({"runtime_classes": [{"metadata": {"name": "kata-qemu", "labels": {
        "app.kubernetes.io/managed-by": "kata-deploy"}}}]},
     "kata-deploy manages Kata Containers through RuntimeClasses kata-qemu"),
])
def test_what_others_left_is_named_before_any_change(kw, message):
    with pytest.raises(PreflightError) as e:
        decide(settings(), facts(standard(), **kw))
    assert message in str(e.value)
    assert "oc delete" in str(e.value) or "Remove kata-deploy" in str(e.value)


def test_kata_deploy_node_labels_are_named():
    nodes = standard(**{"worker-1": {"katacontainers.io/kata-runtime": "true"}})
    with pytest.raises(PreflightError, match=r"kata-deploy manages Kata Containers on nodes worker-1"):
        decide(settings(), facts(nodes))


def test_a_layered_pool_the_change_touches_is_refused():
    moc = {"metadata": {"name": "worker"}, "spec": {"machineConfigPool": {"name": "worker"}}}
    with pytest.raises(PreflightError, match=r"pool worker is built with on-cluster image layering \(MachineOSConfig"):
        decide(settings(), facts(standard(), machine_os_configs=[moc]))
    nodes = standard(**{"worker-0": {"kata": "yes"}})
    with pytest.raises(PreflightError, match="pool worker is built with on-cluster image layering"):
        decide(settings(node_selector={"matchLabels": {"kata": "yes"}}), facts(nodes, machine_os_configs=[moc]))


def test_a_paused_worker_pool_is_refused_on_the_custom_path_too_saying_why():
    nodes = standard(**{"worker-0": {"kata": "yes"}})
    with pytest.raises(PreflightError) as e:
        decide(settings(node_selector={"matchLabels": {"kata": "yes"}}),
               facts(nodes, [pool("master"), pool("worker", paused=True)]))
    assert "pool worker (the chosen nodes move between it and the custom pool) is paused" in str(e.value)


def test_schedulable_masters_are_left_out_and_it_is_said():
    nodes = [node(f"master-{i}", "master", "worker", **VIRT) for i in range(3)] + standard()[3:]
    d = decide(settings(), facts(nodes))
    assert d.target_pool == "worker" and d.chosen_nodes == ["worker-0", "worker-1", "worker-2"]
    assert d.plan["handler"] == ["worker-0", "worker-1", "worker-2"]  # what the RuntimeClass will select
    assert any("control-plane nodes master-0, master-1, master-2 are schedulable workers too" in m
               for m in d.messages)


def test_the_dropin_is_checked_against_the_crio_of_the_chosen_nodes():
    nodes = standard()
    for n in nodes:
        n["status"] = {"nodeInfo": {"containerRuntimeVersion": "cri-o://1.27.9-4.rhaos4.14.git1.el9"}}
    newer = DROPIN + 'container_min_memory = "256MiB"\n'
    with pytest.raises(PreflightError, match=r"CRI-O reads from 1.29.3 on; the chosen nodes run CRI-O 1.27.9"):
        decide(Settings(crio_dropin=newer), facts(nodes))


@pytest.mark.parametrize(("os_id", "release", "message"), [
    ("fedora", "4.16.0", "runs Fedora CoreOS, whose package name kata-containers the Machine Config Operator"),
    ("centos", "4.19.3", "reports ID=centos, on which the Machine Config Operator before 4.23"),
    ("ubuntu", "4.21.0", "reports the operating system 'ubuntu'"),
])
def test_operating_systems_the_mco_cannot_give_the_extension_are_refused(os_id, release, message):
    nodes = standard()
    for n in nodes:
        n["metadata"]["labels"]["node.openshift.io/os_id"] = os_id
    with pytest.raises(PreflightError, match=re.escape(message)):
        decide(settings(), facts(nodes, release=parse_release(release)))


# -- objects the collection did not create; a renamed runtime class ---------------------------------------------

def rc(name: str, *, ours: bool = True, handler: str = "kata") -> dict:
    return {"metadata": {"name": name, "labels": dict(MANAGED_BY) if ours else {"made-by": "someone"}},
            "handler": handler}


def running(name: str, ns: str, runtime_class: str, phase: str = "Running") -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"runtimeClassName": runtime_class},
            "status": {"phase": phase}}


def foreign(obj: dict) -> dict:
    obj["metadata"]["labels"] = {k: v for k, v in (obj["metadata"].get("labels") or {}).items()
                                 if k not in MANAGED_BY}
    return obj


@pytest.mark.parametrize(("kw", "named"), [
    ({"runtime_classes": [rc("kata", ours=False)]}, "RuntimeClass kata"),
    ({"current_mc": foreign(o.machine_config("worker", DROPIN))}, "MachineConfig 50-sandboxed-containers"),
    ({"policy_objects": [{"kind": "ValidatingAdmissionPolicy",
                          "metadata": {"name": "sandboxed-containers-runtime-class"}}]},
     "ValidatingAdmissionPolicy sandboxed-containers-runtime-class"),
])
def test_objects_the_collection_did_not_create_are_refused_unless_adopted(kw, named):
    with pytest.raises(PreflightError) as e:
        decide(settings(), facts(standard(), **kw))
    assert (f"{named} exists and was not created by sandboxed.containers (it has no label "
            "app.kubernetes.io/managed-by=sandboxed.containers)") in str(e.value)
    assert "set sandboxed_containers_adopt: true to take them over" in str(e.value)
    d = decide(settings(adopt=True), facts(standard(), **kw))
    assert any(named in m and "sandboxed_containers_adopt" in m for m in d.messages)


def test_the_collections_own_objects_are_not_refused():
    d = decide(settings(), facts(standard(), runtime_classes=[rc("kata")],
                                 current_mc=o.machine_config("worker", DROPIN)))
    assert d.stale_runtime_classes == []


def test_a_renamed_runtime_class_deletes_the_old_one_unless_pods_use_it():
    classes = [rc("kata"), rc("theirs", ours=False)]
    d = decide(settings(runtime_class_name="sandboxed"), facts(standard(), runtime_classes=classes))
    assert d.stale_runtime_classes == ["kata"]  # not the one someone else made
    pods = [running("a", "team-a", "kata"), running("b", "team-b", "kata"), running("c", "team-a", "kata"),
            running("done", "team-c", "kata", phase="Succeeded")]
    with pytest.raises(PreflightError) as e:
        decide(settings(runtime_class_name="sandboxed"), facts(standard(), runtime_classes=classes, pods=pods))
    assert ("3 pods in namespaces team-a, team-b use the runtime class kata, which the collection made under its "
            "earlier name") in str(e.value)
    changes = object_changes(current_mc=None, desired_mc=o.machine_config("worker", DROPIN), current_pool=None,
                             desired_pool=None, current_rc=None,
                             desired_rc=o.runtime_class("sandboxed", "kata", {"cpu": "1"}),
                             stale_runtime_classes=d.stale_runtime_classes)
    assert changes[0] == "RuntimeClass kata: deleted (the runtime class under an earlier name)"


def uninstall(f: Facts, pods=(), **kw):
    return decide_uninstall(f, pool_name="kata-oc", runtime_class="kata", pods=list(pods), force=False, **kw)


def test_uninstall_removes_every_runtime_class_of_the_collection_and_leaves_others_alone():
    mc = o.machine_config("worker", DROPIN)
    f = facts(standard(), runtime_classes=[rc("old"), rc("kata"), rc("theirs", ours=False),
                                           rc("unrelated", ours=False, handler="runc")], current_mc=mc)
    r = uninstall(f)
    assert r.runtime_classes == ["kata", "old"] and r.machine_config and r.path == "worker"
    assert any(m.startswith("RuntimeClass theirs was not created by sandboxed.containers") and
               "oc delete runtimeclass theirs" in m for m in r.messages)
    assert not any("unrelated" in m for m in r.messages)
    # Pods of someone else's class with the handler lose their runtime with the MachineConfig too.
    with pytest.raises(PreflightError, match="1 pods use the runtime class theirs"):
        uninstall(f, [running("p", "ns", "theirs")])


def test_uninstall_leaves_a_foreign_runtime_class_machine_config_and_pool_alone():
    nodes = standard(**{"worker-0": {node_role_label("kata-oc"): ""}})
    f = facts(nodes, [*BASE, pool("kata-oc")], runtime_classes=[rc("kata", ours=False)],
              current_mc=foreign(o.machine_config("worker", DROPIN)),
              policy_objects=[{"kind": "ValidatingAdmissionPolicyBinding",
                               "metadata": {"name": "sandboxed-containers-runtime-class"}}])
    r = uninstall(f, [running("p", "ns", "kata")])  # not the collection's class: its pods do not block
    assert (r.runtime_classes, r.machine_config, r.custom_pool, r.unlabel) == ([], False, False, [])
    assert r.left_alone == ["MachineConfig 50-sandboxed-containers", "MachineConfigPool kata-oc"]
    text = " ".join(r.messages)
    for named in ("RuntimeClass kata", "MachineConfig 50-sandboxed-containers", "MachineConfigPool kata-oc",
                  "ValidatingAdmissionPolicyBinding sandboxed-containers-runtime-class"):
        assert (f"{named} was not created by sandboxed.containers (it has no label "
                "app.kubernetes.io/managed-by=sandboxed.containers): the uninstall leaves it alone") in text


def test_pools_needed_names_every_pool_the_change_touches_and_why():
    custom = Target("standard", "kata-oc", True, "kata-oc", ["worker-0"])
    change = {"pools": {"kata-oc": ["worker-0"], "infra": ["infra-0"]}, "pools_losing": ["old"]}
    assert pools_needed(custom, change, "apply") == {
        "kata-oc": "", "worker": "the chosen nodes move between it and the custom pool",
        "infra": "it inherits the MachineConfig", "old": "it loses the MachineConfig"}
    to_worker = Target("standard", "worker", False, "worker", ["worker-0"])
    assert pools_needed(to_worker, {"pools": {"worker": []}, "pools_losing": []}, "to_worker") == {"worker": ""}
    assert "worker" not in pools_needed(Target("sno", "master", False, "master", ["m"]),
                                        {"pools": {"master": []}, "pools_losing": []}, "apply")


@pytest.mark.parametrize("decision", ["decide", "decide_uninstall"])
def test_the_docstring_of_each_decision_lists_its_steps_as_they_run(decision):
    fn = getattr(_preflight, decision)
    doc = inspect.getdoc(fn).split("steps", 1)[1]
    named = [n for n in re.findall(r"\b(_?[a-z]+(?:_[a-z]+)+)\b", doc) if hasattr(_preflight, n)]
    calls = sorted((c for c in ast.walk(ast.parse(inspect.getsource(fn)))
                    if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)),
                   key=lambda c: (c.lineno, c.col_offset))
    called = [c.func.id for c in calls]
    assert named, doc
    # Every step the docstring names is called, in the docstring's order.
    positions = [min(i for i, c in enumerate(called) if c == n) for n in named]
    assert positions == sorted(positions), (named, called)


@pytest.mark.parametrize("waves", [{"canary": 1}, {"wave_size": "50%"}])
def test_staging_in_waves_is_refused_since_a_paused_pool_updates_no_node(waves):
    nodes = [node(f"worker-{i}", labels={"kata": "yes"}) for i in range(3)]
    with pytest.raises(PreflightError, match=r"sandboxed_containers_rollout staged cannot go with .* a paused pool "
                                             r"updates no node"):
        decide(settings(node_selector={"matchLabels": {"kata": "yes"}}, rollout="staged", **waves), facts(nodes))
