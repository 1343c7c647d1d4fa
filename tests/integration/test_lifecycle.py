"""Uninstall, upgrade and changing the chosen nodes, each with its reboot count per node."""

from __future__ import annotations

import os
import signal

import pytest
from kubernetes import client

from sim import testing as st
from support import MC_NAME, Recorder, handler_nodes, new_namespace, snapshot

KATA_LABEL = "node-role.kubernetes.io/kata-oc"
CURRENT_CONFIG = "machineconfiguration.openshift.io/currentConfig"
SEL = {"sandboxed_containers_node_selector": {"matchLabels": {"sandboxed": "yes"}}}
MASTERS = {"master-0": 0, "master-1": 0, "master-2": 0}


def choose(api, *nodes):
    for n in ("worker-0", "worker-1", "worker-2"):
        st.label_node(api, n, {"sandboxed": "yes" if n in nodes else None})


def reboots(api):
    return dict(st.reboots(api))


def mcs(api):
    return {o["metadata"]["name"] for o in st.kube(api).get(
        "/apis/machineconfiguration.openshift.io/v1/machineconfigs")["items"]}


def pod(api, ns, name, *, runtime_class="kata", restart="Always"):
    return client.CoreV1Api(api).create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(runtime_class_name=runtime_class, restart_policy=restart, containers=[
            client.V1Container(name="c", image="registry.invalid/app:1")])))


# -- uninstall --------------------------------------------------------------------------------------------

def test_uninstall_refuses_while_pods_use_the_runtime_class_unless_forced(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    ns = new_namespace(api)
    pod(api, ns, "busy")
    st.wait_for(lambda: client.CoreV1Api(api).read_namespaced_pod("busy", ns).status.phase == "Running", 60)
    before = snapshot(api)
    r = ansible.run("uninstall")
    assert r.rc != 0, r
    assert f"1 pods use the runtime class kata (Pending, Running or Unknown): {ns}/busy" in r.text
    assert "sandboxed_containers_force: true" in r.text
    assert snapshot(api) == before
    r = ansible.run("uninstall", extra_vars={"sandboxed_containers_force": True})
    assert r.rc == 0, r
    assert f"forced: 1 pods still use the runtime class kata: {ns}/busy" in r.text


def test_finished_pods_do_not_block_uninstall(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    ns = new_namespace(api)
    core = client.CoreV1Api(api)
    pod(api, ns, "done", restart="Never")
    st.wait_for(lambda: core.read_namespaced_pod("done", ns).status.phase == "Running", 60)
    # What a kubelet reports when the container exits 0.
    core.patch_namespaced_pod_status("done", ns, {"status": {"phase": "Succeeded"}})
    r = ansible.run("uninstall")
    assert r.rc == 0, r


def test_uninstall_custom_pool_in_order_with_one_reboot_per_node(cluster, ansible, fresh):
    api = fresh
    choose(api, "worker-0", "worker-2")
    assert ansible.run("install", extra_vars=SEL).rc == 0
    assert reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 0, "worker-2": 1}
    with Recorder(api) as rec:
        r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert reboots(api) == {**MASTERS, "worker-0": 2, "worker-1": 0, "worker-2": 2}
    rc_gone = rec.first("runtimeclass", "deleted", "kata")
    assert rc_gone < rec.first("node", "unlabelled")
    assert rec.last("node", "unlabelled") < rec.first("pool", "deleted", "kata-oc")
    assert rec.first("pool", "deleted", "kata-oc") < rec.first("machineconfig", "deleted", MC_NAME)
    assert MC_NAME not in mcs(api)
    worker = st.pool(api, "worker")
    assert worker["status"]["machineCount"] == worker["status"]["updatedMachineCount"] == 3
    assert all(KATA_LABEL not in (n["metadata"].get("labels") or {}) for n in st.nodes(api))


def test_uninstall_worker_pool_path(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert reboots(api) == {**MASTERS, "worker-0": 2, "worker-1": 2, "worker-2": 2}
    worker = st.pool(api, "worker")
    assert MC_NAME not in [s["name"] for s in worker["spec"]["configuration"]["source"]]
    assert worker["status"]["configuration"]["name"] == worker["spec"]["configuration"]["name"]


def test_uninstall_on_a_cluster_without_installation_changes_nothing(cluster, ansible, fresh):
    api = fresh
    before = snapshot(api)
    r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert r.changed == 0, r
    assert snapshot(api) == before


@pytest.mark.parametrize("kill_when", ["runtime class deleted", "nodes unlabelled", "during the wait"])
def test_uninstall_killed_at_any_step_is_finished_by_a_rerun(cluster, ansible, fresh, kill_when):
    api = fresh
    st.configure(api, node_update=1.0)
    choose(api, "worker-0", "worker-1")
    assert ansible.run("install", extra_vars=SEL).rc == 0
    with Recorder(api) as rec:
        proc = ansible.start("uninstall")
        if kill_when == "runtime class deleted":
            st.wait_for(lambda: any(e[1] == "runtimeclass" for e in rec.events), 60)
        elif kill_when == "nodes unlabelled":
            st.wait_for(lambda: any(e[2] == "unlabelled" for e in rec.events), 60)
        else:
            st.wait_for(lambda: any((n["metadata"].get("annotations") or {}).get(
                "machineconfiguration.openshift.io/state") == "Working" for n in st.nodes(api)), 60)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert reboots(api) == {**MASTERS, "worker-0": 2, "worker-1": 2, "worker-2": 0}
    assert MC_NAME not in mcs(api)
    assert "kata-oc" not in {p["metadata"]["name"] for p in st.pools(api)}


# -- upgrade ----------------------------------------------------------------------------------------------

def _age(api, version: str) -> None:
    """Stamps the installed objects as written by another version of the collection."""
    k = st.kube(api)
    ann = {"metadata": {"annotations": {"sandboxed.containers/version": version}}}
    k.merge_patch(f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{MC_NAME}", ann)
    k.merge_patch("/apis/node.k8s.io/v1/runtimeclasses/kata", ann)
    if any(p["metadata"]["name"] == "kata-oc" for p in st.pools(api)):
        k.merge_patch("/apis/machineconfiguration.openshift.io/v1/machineconfigpools/kata-oc", ann)


def _versions(api) -> set[str]:
    k = st.kube(api)
    objs = [k.get(f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{MC_NAME}"),
            k.get("/apis/node.k8s.io/v1/runtimeclasses/kata")]
    return {o["metadata"]["annotations"]["sandboxed.containers/version"] for o in objs}


def test_upgrade_from_an_older_version_in_one_rollout(cluster, ansible, fresh):
    api = fresh
    choose(api, "worker-0", "worker-1")
    old = {**SEL, "sandboxed_containers_crio_runtime_root": "/run/vc-old",
           "sandboxed_containers_overhead": {"cpu": "100m", "memory": "160Mi"}}
    assert ansible.run("install", extra_vars=old).rc == 0
    _age(api, "0.9.0")
    before = reboots(api)
    renders_before = {p["metadata"]["name"]: p["spec"]["configuration"]["name"] for p in st.pools(api)}
    r = ansible.run("upgrade", extra_vars=SEL)
    assert r.rc == 0, r
    after = reboots(api)
    assert {n: after[n] - before[n] for n in after} == {**MASTERS, "worker-0": 1, "worker-1": 1, "worker-2": 0}
    assert _versions(api) == {"1.0.0"}
    rc = client.NodeV1Api(api).read_runtime_class("kata")
    assert rc.overhead.pod_fixed == {"cpu": "250m", "memory": "350Mi"}
    renders_after = {p["metadata"]["name"]: p["spec"]["configuration"]["name"] for p in st.pools(api)}
    assert renders_after["worker"] == renders_before["worker"]
    assert renders_after["kata-oc"] != renders_before["kata-oc"]  # one new rendered config: one rollout
    assert r.report["installed"] is True


def test_upgrade_of_the_overhead_alone_reboots_nothing(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install", extra_vars={
        "sandboxed_containers_overhead": {"cpu": "100m", "memory": "160Mi"}}).rc == 0
    _age(api, "0.9.0")
    before = reboots(api)
    r = ansible.run("upgrade")
    assert r.rc == 0, r
    assert reboots(api) == before
    assert client.NodeV1Api(api).read_runtime_class("kata").overhead.pod_fixed == {"cpu": "250m", "memory": "350Mi"}


def test_upgrade_check_mode_shows_the_plan_and_changes_nothing(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install", extra_vars={"sandboxed_containers_crio_runtime_root": "/run/vc-old"}).rc == 0
    _age(api, "0.9.0")
    before = snapshot(api)
    r = ansible.run("upgrade", check=True)
    assert r.rc == 0, r
    assert "Changes: MachineConfig 50-sandboxed-containers: the CRI-O drop-in changes" in r.text
    assert "Changes: MachineConfig 50-sandboxed-containers: 0.9.0 -> 1.0.0" in r.text
    assert "Nodes that reboot once: worker-0, worker-1, worker-2; no other node reboots." in r.text
    assert snapshot(api) == before


def test_upgrade_refuses_a_downgrade_unless_allowed(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    _age(api, "9.0.0")
    before = snapshot(api)
    r = ansible.run("upgrade")
    assert r.rc != 0, r
    assert "a newer version of sandboxed.containers installed this cluster" in r.text
    assert "sandboxed_containers_allow_downgrade: true" in r.text
    assert snapshot(api) == before
    r = ansible.run("upgrade", extra_vars={"sandboxed_containers_allow_downgrade": True})
    assert r.rc == 0, r
    assert _versions(api) == {"1.0.0"}


def test_upgrade_without_installation_says_to_install(cluster, ansible, fresh):
    r = ansible.run("upgrade")
    assert r.rc != 0, r
    assert "run playbooks/install.yml" in r.text


# -- changing the chosen nodes ----------------------------------------------------------------------------

def test_changing_the_selection_reboots_only_the_nodes_that_move(cluster, ansible, fresh):
    api = fresh
    choose(api, "worker-0", "worker-1")
    assert ansible.run("install", extra_vars=SEL).rc == 0
    choose(api, "worker-1", "worker-2")
    r = ansible.run("install", extra_vars=SEL)
    assert r.rc == 0, r
    assert reboots(api) == {**MASTERS, "worker-0": 2, "worker-1": 1, "worker-2": 1}
    assert st.pool(api, "kata-oc")["status"]["machineCount"] == 2
    assert st.pool(api, "worker")["status"]["machineCount"] == 1


def test_from_every_worker_to_a_subset_and_back(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    assert reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 1, "worker-2": 1}
    choose(api, "worker-0")
    r = ansible.run("install", extra_vars=SEL)
    assert r.rc == 0, r
    # worker-0 keeps its content while it moves to kata-oc; the others lose it.
    assert reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 2, "worker-2": 2}
    r = ansible.run("install")
    assert r.rc == 0, r
    assert reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 3, "worker-2": 3}
    assert "kata-oc" not in {p["metadata"]["name"] for p in st.pools(api)}
    assert client.NodeV1Api(api).read_runtime_class("kata").scheduling.node_selector == {
        "sandboxed.containers/handler": "kata"}
    assert handler_nodes(api) == ["worker-0", "worker-1", "worker-2"]


def test_a_node_that_joins_later_is_brought_in_by_a_rerun(cluster, ansible, fresh):
    api = fresh
    choose(api, "worker-0")
    assert ansible.run("install", extra_vars=SEL).rc == 0
    st.add_node(api, "worker-3", labels={"sandboxed": "yes"})  # seeded with the worker pool's config
    r = ansible.run("install", extra_vars=SEL)
    assert r.rc == 0, r
    assert reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 0, "worker-2": 0, "worker-3": 1}


def test_removing_every_node_from_the_selection_is_refused_with_a_hint(cluster, ansible, fresh):
    api = fresh
    choose(api, "worker-0")
    assert ansible.run("install", extra_vars=SEL).rc == 0
    choose(api)
    before = snapshot(api)
    r = ansible.run("install", extra_vars=SEL)
    assert r.rc != 0, r
    assert "matches no worker node" in r.text
    assert "run playbooks/uninstall.yml instead" in r.text
    assert snapshot(api) == before


# -- the round trip ---------------------------------------------------------------------------------------

def test_install_upgrade_uninstall_leaves_the_cluster_as_it_was(cluster, ansible, fresh):
    api = fresh
    choose(api, "worker-0", "worker-2")
    before = snapshot(api)
    assert ansible.run("install", extra_vars={**SEL, "sandboxed_containers_crio_runtime_root": "/run/vc-old"}).rc == 0
    _age(api, "0.9.0")
    assert ansible.run("upgrade", extra_vars=SEL).rc == 0
    assert ansible.run("uninstall").rc == 0
    after = snapshot(api)

    def without_rendered(s):
        # The MCO keeps every rendered config it ever generated, and its drain bookkeeping on nodes;
        # those are its history, not ours. Nodes compare by labels and the config they run.
        return {**s,
                "machineconfigs": {k: v for k, v in s["machineconfigs"].items() if not k.startswith("rendered-")},
                "nodes": {k: (meta["labels"], meta["annotations"].get(CURRENT_CONFIG), unschedulable)
                          for k, (meta, unschedulable) in s["nodes"].items()}}

    assert without_rendered(after) == without_rendered(before)


# -- objects the collection did not create; a renamed runtime class ---------------------------------------

MANAGED_BY = "app.kubernetes.io/managed-by"


def runtime_class(api, name, *, ours=False, handler="kata"):
    """A RuntimeClass made behind the collection's back: an administrator's (or the operator's), or one the
    collection made under an earlier name (its label)."""
    labels = {MANAGED_BY: "sandboxed.containers"} if ours else {"made-by": "an-administrator"}
    return client.NodeV1Api(api).create_runtime_class(client.V1RuntimeClass(
        metadata=client.V1ObjectMeta(name=name, labels=labels), handler=handler))


def runtime_classes(api):
    return {rc.metadata.name: rc for rc in client.NodeV1Api(api).list_runtime_class().items}


def test_install_refuses_to_take_over_a_runtime_class_it_did_not_create_unless_adopted(cluster, ansible, fresh):
    api = fresh
    runtime_class(api, "kata")
    before = snapshot(api)
    r = ansible.run("install")
    assert r.rc != 0, r
    assert ("RuntimeClass kata exists and was not created by sandboxed.containers (it has no label "
            "app.kubernetes.io/managed-by=sandboxed.containers)") in r.text, r
    assert "sandboxed_containers_adopt: true" in r.text and "Nothing was changed" in r.text, r
    assert "Check the cluster and the settings, and plan (changes nothing)" in r.output, r
    assert snapshot(api) == before
    r = ansible.run("install", extra_vars={"sandboxed_containers_adopt": True})
    assert r.rc == 0, r
    rc = runtime_classes(api)["kata"]
    assert rc.metadata.labels[MANAGED_BY] == "sandboxed.containers"
    assert rc.overhead.pod_fixed == {"cpu": "250m", "memory": "350Mi"}
    assert rc.scheduling.node_selector == {"sandboxed.containers/handler": "kata"}
    r = ansible.run("install")  # now the collection's own: no adopt needed, nothing to do
    assert r.rc == 0 and r.changed == 0, r


def test_uninstall_leaves_a_runtime_class_it_did_not_create_and_says_so(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    # Replaced behind the collection's back, e.g. by an administrator.
    client.NodeV1Api(api).delete_runtime_class("kata")
    theirs = runtime_class(api, "kata")
    r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert ("RuntimeClass kata was not created by sandboxed.containers (it has no label "
            "app.kubernetes.io/managed-by=sandboxed.containers): the uninstall leaves it alone") in r.text, r
    left = runtime_classes(api)
    assert list(left) == ["kata"] and left["kata"].metadata.uid == theirs.metadata.uid
    assert left["kata"].metadata.labels == {"made-by": "an-administrator"}
    assert MC_NAME not in mcs(api)  # its own objects are gone
    r = ansible.run("uninstall")
    assert r.rc == 0 and r.changed == 0, r
    assert "the uninstall leaves it alone" in r.text, r
    assert list(runtime_classes(api)) == ["kata"]


def test_a_renamed_runtime_class_leaves_no_old_one_behind(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    ns = new_namespace(api)
    pod(api, ns, "busy")
    st.wait_for(lambda: client.CoreV1Api(api).read_namespaced_pod("busy", ns).status.phase == "Running", 60)
    renamed = {"sandboxed_containers_runtime_class_name": "sandboxed"}
    before = snapshot(api)
    r = ansible.run("install", extra_vars=renamed)
    assert r.rc != 0, r
    assert (f"1 pods in namespaces {ns} use the runtime class kata, which the collection made under its earlier "
            "name") in r.text, r
    assert "Nothing was changed" in r.text, r
    assert snapshot(api) == before
    client.CoreV1Api(api).delete_namespaced_pod("busy", ns, grace_period_seconds=0)
    st.wait_for(lambda: not client.CoreV1Api(api).list_namespaced_pod(ns).items, 60, what="the pod to go")
    r = ansible.run("install", extra_vars=renamed, check=True)
    assert r.rc == 0, r
    assert "RuntimeClass kata: deleted (the runtime class under an earlier name)" in r.text, r
    assert set(runtime_classes(api)) == {"kata"}
    r = ansible.run("install", extra_vars=renamed)
    assert r.rc == 0, r
    assert set(runtime_classes(api)) == {"sandboxed"}
    assert reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 1, "worker-2": 1}  # a rename reboots nothing
    r = ansible.run("uninstall", extra_vars=renamed)
    assert r.rc == 0, r
    assert runtime_classes(api) == {}


def test_uninstall_removes_every_runtime_class_of_the_collection(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    runtime_class(api, "kata-before-rename", ours=True)  # what an older version left after a rename
    runtime_class(api, "theirs")  # an administrator's, with the same handler
    r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert set(runtime_classes(api)) == {"theirs"}
    assert "RuntimeClass theirs was not created by sandboxed.containers" in r.text, r


def test_an_admission_policy_of_the_collections_name_that_it_did_not_create_is_left_alone(cluster, ansible, fresh):
    api = fresh
    vaps = client.AdmissionregistrationV1Api(api)
    name = "sandboxed-containers-runtime-class"
    vaps.create_validating_admission_policy({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": {"made-by": "an-administrator"}},
        "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                         "resources": ["configmaps"], "operations": ["CREATE"]}]},
                 "validations": [{"expression": "true"}]}})
    try:
        before = snapshot(api)
        r = ansible.run("install", extra_vars={"sandboxed_containers_policy": {"modes": ["namespaces"]}})
        assert r.rc != 0, r
        assert (f"ValidatingAdmissionPolicy {name} exists and was not created by sandboxed.containers"
                in r.text and "sandboxed_containers_adopt: true" in r.text and "Nothing was changed" in r.text), r
        assert snapshot(api) == before
        r = ansible.run("uninstall")
        assert r.rc == 0, r
        assert f"ValidatingAdmissionPolicy {name} was not created by sandboxed.containers" in r.text, r
        assert vaps.read_validating_admission_policy(name).metadata.labels == {"made-by": "an-administrator"}
    finally:
        vaps.delete_validating_admission_policy(name)
