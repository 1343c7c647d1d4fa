"""The OpenShift version and topology matrix: schedulable masters, infra nodes, architectures, OSes,
preset MachineConfigs and the release-dependent behaviour of the simulated MCO."""

from __future__ import annotations

import time

import pytest

from sim import testing as st
from sim.constants import NFD_KATA, NFD_SIE, NFD_VMX, RELEASE_IMAGE_VERSION, STATE
from sim.kube import mc_path

FAST = {"render_delay": 1, "node_update": 0.5}
MASTER_TAINT = {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}
PCA = "machineconfiguration.openshift.io/post-config-action"


def _node(api, name: str) -> dict:
    return next(n for n in st.nodes(api) if n["metadata"]["name"] == name)


def _masters(api) -> list[dict]:
    return [n for n in st.nodes(api) if n["metadata"]["name"].startswith("master-")]


def _schedulable(n: dict) -> bool:
    return ("node-role.kubernetes.io/worker" in n["metadata"]["labels"]
            and MASTER_TAINT not in (n["spec"].get("taints") or []))


def test_release_shows_on_nodes_and_rendered_configs(sim):
    rel = st.knobs(sim).release
    n = _node(sim, "worker-0")
    info = n["status"]["nodeInfo"]
    assert info["kubeletVersion"] == rel.kubelet_version and info["containerRuntimeVersion"] == rel.crio_version
    assert info["kernelVersion"].endswith(".x86_64") and n["metadata"]["labels"]["node.openshift.io/os_id"] == "rhcos"
    rendered = st.kube(sim).get(mc_path(st.pool(sim, "worker")["spec"]["configuration"]["name"]))
    assert rendered["metadata"]["annotations"][RELEASE_IMAGE_VERSION] == rel.full_version


def test_schedulable_masters_are_reconciled(api):
    st.reset(api, masters_schedulable=False, **FAST)
    if not st.set_masters_schedulable(api, False):
        pytest.skip("the config.openshift.io Scheduler API is not served by this cluster")
    assert not any(_schedulable(n) for n in _masters(api))
    st.set_masters_schedulable(api, True)
    st.wait_for(lambda: all(_schedulable(n) for n in _masters(api)), timeout=10, what="masters schedulable")
    # they stay in the master pool: the worker pool does not count them
    assert st.machine_count(st.pool(api, "worker"))["machine"] == 3
    assert st.machine_count(st.pool(api, "master"))["machine"] == 3
    # a manual change is reconciled back (node add/update handlers), the control-plane label too (4.16+)
    st.label_node(api, "master-1", {"node-role.kubernetes.io/worker": None,
                                    "node-role.kubernetes.io/control-plane": None})
    st.wait_for(lambda: _schedulable(n := _node(api, "master-1"))
                and "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"], timeout=10,
                what="master-1 reconciled")
    st.set_masters_schedulable(api, False)
    st.wait_for(lambda: not any(_schedulable(n) for n in _masters(api)), timeout=10, what="masters tainted again")
    assert all(MASTER_TAINT in n["spec"]["taints"] for n in _masters(api))


def test_compact_and_sno_with_workers(api):
    st.reset(api, topology="sno", workers=2, **FAST)
    names = sorted(n["metadata"]["name"] for n in st.nodes(api))
    assert names == ["master-0", "worker-0", "worker-1"]
    assert _schedulable(_node(api, "master-0"))
    assert st.machine_count(st.pool(api, "worker"))["machine"] == 2
    assert _node(api, "worker-0")["metadata"]["annotations"]["machineconfiguration.openshift.io/controlPlaneTopology"] \
        == "SingleReplica"
    st.reset(api, topology="compact", **FAST)  # another topology: its own default worker count
    assert sorted(n["metadata"]["name"] for n in st.nodes(api)) == ["master-0", "master-1", "master-2"]
    st.reset(api, topology="standard", **FAST)


def test_infra_pool_rollout(api):
    st.reset(api, infra=2, **FAST)
    try:
        infra = st.pool(api, "infra")
        assert st.machine_count(infra)["machine"] == 2 and st.machine_count(st.pool(api, "worker"))["machine"] == 3
        labels = _node(api, "infra-0")["metadata"]["labels"]
        assert "node-role.kubernetes.io/infra" in labels and "node-role.kubernetes.io/worker" in labels
        assert not _node(api, "infra-0")["spec"].get("taints")  # the docs' infra taint is optional: none here
        st.create_mc(api, st.machine_config("50-infra", "infra", files={"/etc/infra": "x"}))
        st.wait_pool_converged(api, "infra", contains=["50-infra"])
        # a worker MachineConfig reaches the infra pool too (machineConfigSelector role In [worker, infra])
        st.create_mc(api, st.machine_config("50-w", "worker", files={"/etc/w": "x"}))
        p = st.wait_pool_converged(api, "infra", contains=["50-w", "50-infra"])
        st.wait_pool_converged(api, "worker", contains=["50-w"])
        names = [s["name"] for s in p["spec"]["configuration"]["source"]]
        assert names[-1] == "50-infra"  # worker-role configs first (4.15+)
        reboots = st.reboots(api)
        assert (reboots["infra-0"], reboots["infra-1"], reboots["worker-0"], reboots["master-0"]) == (2, 2, 1, 0)
    finally:
        st.reset(api, infra=0, **FAST)


def test_extension_not_built_for_the_architecture(api):
    st.reset(api, arch={"worker-0": "arm64", "worker-1": "s390x"}, **FAST)
    try:
        labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in st.nodes(api)}
        assert labels["worker-0"]["kubernetes.io/arch"] == "arm64" and NFD_VMX not in labels["worker-0"]
        assert labels["worker-1"][NFD_SIE] == "true" and NFD_KATA not in labels["worker-1"]
        assert _node(api, "worker-0")["status"]["nodeInfo"]["kernelVersion"].endswith(".aarch64")
        st.patch_pool_spec(api, "worker", {"maxUnavailable": 3})
        st.create_mc(api, st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"]))
        c = st.wait_condition(api, "worker", "NodeDegraded", "True", timeout=30)
        assert c["message"] == ('Node worker-0 is reporting: "error running rpm-ostree update --install '
                                'kata-containers: error: Packages not found: kata-containers\\n: exit status 1"')
        time.sleep(2)
        n = _node(api, "worker-0")
        assert n["metadata"]["annotations"][STATE] == "Degraded" and n["spec"].get("unschedulable") is True
        reboots = st.reboots(api)
        assert (reboots["worker-0"], reboots["worker-1"], reboots["worker-2"]) == (0, 1, 1)  # s390x has kata
    finally:
        st.reset(api, arch={}, **FAST)


def test_nodes_without_nfd_and_another_os(api):
    st.reset(api, no_nfd=["worker-2"], os="scos", **FAST)
    try:
        n = _node(api, "worker-2")
        assert not any(k.startswith("feature.node.kubernetes.io/") for k in n["metadata"]["labels"])
        assert n["metadata"]["labels"]["node.openshift.io/os_id"] == "scos"
        assert n["status"]["nodeInfo"]["osImage"].startswith("CentOS Stream CoreOS")
        assert _node(api, "worker-0")["metadata"]["labels"][NFD_KATA] == "true"
    finally:
        st.reset(api, no_nfd=[], os="rhcos", **FAST)


def test_fcos_takes_extension_names_as_packages(api):
    # OKD on FCOS (<= 4.15): the daemon passes extension names to rpm-ostree as they are
    st.reset(api, os="fcos", extension_validation="daemon", **FAST)
    try:
        st.configure(api, openshift_version="4.15")
        st.create_mc(api, st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"]))
        c = st.wait_condition(api, "worker", "NodeDegraded", "True", timeout=30)
        assert "error: Packages not found: sandboxed-containers" in c["message"]
    finally:
        st.reset(api, os="rhcos", **FAST)


def test_preset_machine_configs(api):
    st.reset(api, machine_configs=["ipsec", "osc-leftover"], **FAST)
    try:
        p = st.pool(api, "worker")
        names = [s["name"] for s in p["spec"]["configuration"]["source"]]
        assert "80-ipsec-worker-extensions" in names and "50-enable-sandboxed-containers-extension" in names
        rendered = st.kube(api).get(mc_path(p["spec"]["configuration"]["name"]))
        assert rendered["spec"]["extensions"] == ["sandboxed-containers", "ipsec"]
        assert st.reboots(api)["worker-0"] == 0  # seeded: the nodes booted with them
        # reset keeps the presets of the shape, deletes the rest
        st.create_mc(api, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))
        st.reset(api, machine_configs=["ipsec"], **FAST)
        names = {mc["metadata"]["name"] for mc in st.kube(api).get(mc_path())["items"]}
        assert "80-ipsec-master-extensions" in names and "50-x" not in names
        assert "50-enable-sandboxed-containers-extension" not in names
    finally:
        st.reset(api, machine_configs=[], **FAST)


def test_release_414_merge_order_and_post_config_action(sim):
    # simulator-only: the API server stays what it is, the MCO behaves as release-4.14
    k = st.kube(sim)
    k.create("/apis/machineconfiguration.openshift.io/v1/machineconfigpools", st.custom_pool("kata-oc"))
    st.create_mc(sim, st.machine_config("80-ipsec-like", "worker", extensions=["ipsec"]))
    st.create_mc(sim, st.machine_config("50-kata", "kata-oc", extensions=["sandboxed-containers"]))
    st.label_node(sim, "worker-0", {"node-role.kubernetes.io/kata-oc": ""})
    p = st.wait_pool_converged(sim, "kata-oc", contains=["50-kata", "80-ipsec-like"])
    new = k.get(mc_path(p["spec"]["configuration"]["name"]))
    assert new["spec"]["extensions"] == ["ipsec", "sandboxed-containers"]  # worker-role first (4.15+)
    a = _node(sim, "worker-0")["metadata"]["annotations"]
    assert a[PCA] == ""  # set to Rebooting before the reboot, then "" (the key stays)
    gen = p["metadata"]["generation"]
    st.configure(sim, openshift_version="4.14")
    p = st.wait_pool_converged(sim, "kata-oc", min_generation=gen + 1)
    old = k.get(mc_path(p["spec"]["configuration"]["name"]))
    assert old["spec"]["extensions"] == ["sandboxed-containers", "ipsec"]  # 4.14: every MachineConfig by name
    assert old["metadata"]["annotations"][RELEASE_IMAGE_VERSION] == "4.14.0"
    assert st.reboots(sim)["worker-0"] == 2  # the reordered list is a change: another reboot
    st.create_mc(sim, st.machine_config("50-x", "master", files={"/etc/x": "x"}))
    st.wait_pool_converged(sim, "master", contains=["50-x"])
    a = _node(sim, "master-0")["metadata"]["annotations"]
    assert PCA not in a and st.reboots(sim)["master-0"] == 1  # 4.14 has no post-config-action
