"""Release profiles, topology shapes, schedulable masters and runAsNonRoot (no cluster)."""

from __future__ import annotations

import pytest

from sim import podstatus, releases, render, topology
from sim import pools as P
from sim.constants import NFD_HYPERVISOR, NFD_KATA, NFD_SIE, NFD_VMX, RELEASE_IMAGE_VERSION
from sim.knobs import Knobs
from sim.testing import machine_config

WORKER = {"metadata": {"name": "worker", "uid": "u"},
          "spec": {"machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "worker"}}}}
INFRA = {"metadata": {"name": "infra", "uid": "i"}, "spec": topology.infra_pool()["spec"]}


def test_release_profiles():
    assert releases.SUPPORTED == ("4.14", "4.15", "4.16", "4.17", "4.18", "4.19", "4.20", "4.21")
    r = releases.release("4.16.3")
    assert (r.version, r.full_version, r.kubernetes, r.crio) == ("4.16", "4.16.0", "1.29", "1.29")
    assert r.kubelet_version.startswith("v1.29.") and r.crio_version.startswith("cri-o://1.29.")
    with pytest.raises(ValueError) as e:
        releases.release("4.9")
    assert str(e.value) == ("CLUSTER_OPENSHIFT_VERSION=4.9 is not supported; use one of 4.14, 4.15, 4.16, 4.17, "
                            "4.18, 4.19, 4.20, 4.21")
    flags = {v: (r.post_config_action, r.worker_first_merge, r.ipsec_extension_mcs, r.vap_v1, r.mco_custom_pool_vap,
                 r.machine_os_config_v1, r.node_disruption_policy) for v, r in releases.RELEASES.items()}
    assert flags["4.14"] == (False,) * 7
    assert flags["4.15"] == (True, True, True, False, False, False, False)
    assert flags["4.17"] == (True, True, True, True, False, False, True)
    assert flags["4.18"] == (True,) * 7
    ext = {v: tuple(r.supported_extensions) for v, r in releases.RELEASES.items()}
    assert ext["4.14"] == ext["4.17"] == ("wasm", "ipsec", "usbguard", "kerberos", "kernel-devel",
                                          "sandboxed-containers")
    assert ext["4.18"] == (*ext["4.14"], "sysstat")
    assert ext["4.19"] == ext["4.21"] == ("two-node-ha", *ext["4.18"])
    assert [releases.RELEASES[v].extension_validation for v in ("4.15", "4.16", "4.17", "4.18")] == [
        "daemon", "always", "always", "ignition"]
    assert [releases.RELEASES[v].default_runtime for v in ("4.17", "4.18")] == ["runc", "crun"]


def test_knobs_follow_the_release_unless_set():
    k = Knobs.from_data({"openshiftVersion": "4.16.2"})
    assert k.openshift_version == "4.16" and k.validation == "always"
    assert "sysstat" not in k.extensions and "sandboxed-containers" in k.extensions
    assert "supportedExtensions" not in k.to_data() and k.to_data()["openshiftVersion"] == "4.16"
    k = Knobs.from_data({"openshiftVersion": "4.16", "supportedExtensions": "usbguard",
                         "extensionValidation": "daemon"})
    assert (k.extensions, k.validation) == (("usbguard",), "daemon")
    assert Knobs.from_data({"openshiftVersion": "3.11"}).openshift_version == "4.21"  # bad value: default kept
    k = Knobs.from_data({"imageUsers": "registry.invalid/a/b:1=1001, registry.invalid/c=nobody",
                         "defaultImageUser": "0"})
    assert k.image_user("registry.invalid/a/b:1") == "1001"
    assert k.image_user("registry.invalid/c:latest") == "nobody"  # a repository without tag matches any tag
    assert k.image_user("registry.invalid/c@sha256:" + "1" * 64) == "nobody"
    assert k.image_user("registry.invalid/ubi9/ubi-minimal:latest") == "0"
    assert Knobs.from_data(k.to_data()) == k


def test_merge_order_per_release():
    ipsec = topology.preset_machine_configs(["ipsec"], releases.release("4.15"))[1]
    kata = machine_config("50-kata", "infra", extensions=["sandboxed-containers"])
    mcs = [*topology.base_machine_configs("worker"), ipsec, kata]
    new = render.render(INFRA, mcs, Knobs(), None)
    old = render.render(INFRA, mcs, Knobs(openshift_version="4.14"), None)
    # 4.15+: worker-role MachineConfigs first, so the infra one comes last; 4.14: all by name
    assert [s["name"] for s in new.source][-2:] == ["99-worker-ssh", "50-kata"]
    assert [s["name"] for s in old.source] == sorted(mc["metadata"]["name"] for mc in mcs)
    assert new.machine_config["spec"]["extensions"] == ["ipsec", "sandboxed-containers"]
    assert old.machine_config["spec"]["extensions"] == ["sandboxed-containers", "ipsec"]
    assert new.name != old.name
    assert new.machine_config["metadata"]["annotations"][RELEASE_IMAGE_VERSION] == "4.21.0"
    assert old.machine_config["metadata"]["annotations"][RELEASE_IMAGE_VERSION] == "4.14.0"


def test_extension_validation_per_release():
    bad = machine_config("50-x", "worker", extensions=["kata-containers"])
    render.render(WORKER, [*topology.base_machine_configs("worker"), bad], Knobs(openshift_version="4.15"), None)
    for v in ("4.16", "4.21"):
        with pytest.raises(render.RenderError, match=r"invalid extensions found: \[kata-containers\]"):
            render.render(WORKER, [*topology.base_machine_configs("worker"), bad], Knobs(openshift_version=v), None)


def test_presets():
    rel = releases.release("4.21")
    worker, = [mc for mc in topology.preset_machine_configs(["ipsec"], rel)
               if mc["metadata"]["name"] == "80-ipsec-worker-extensions"]
    assert worker["metadata"]["labels"] == {"machineconfiguration.openshift.io/role": "worker"}
    assert worker["spec"]["extensions"] == ["ipsec"] and worker["spec"]["config"]["ignition"]["version"] == "3.2.0"
    assert worker["spec"]["config"]["systemd"]["units"][0]["name"] == "ipsecenabler.service"
    assert "storage" not in worker["spec"]["config"] and "kernelArguments" not in worker["spec"]
    with pytest.raises(ValueError, match=r"needs OpenShift 4\.15 or later"):
        topology.preset_machine_configs(["ipsec"], releases.release("4.14"))
    osc, = topology.preset_machine_configs(["osc-leftover"], rel)
    assert osc["metadata"] == {"name": "50-enable-sandboxed-containers-extension", "labels": {
        "machineconfiguration.openshift.io/role": "worker", "app": "example-kataconfig"}}
    assert osc["spec"] == {"config": {"ignition": {"version": "3.2.0"}}, "extensions": ["sandboxed-containers"]}


def test_shapes():
    s = topology.Shape.make(topology="compact")
    assert s.workers == 0 and s.schedulable
    s = topology.Shape.make(arch="worker-1=arm64,worker-2=s390x", no_nfd="all", machine_configs="ipsec")
    assert (s.arch_of("worker-1"), s.arch_of("worker-0"), s.nfd("master-0")) == ("arm64", "amd64", False)
    assert topology.Shape.from_json(s.to_json()) == s
    for bad in ({"arch": {"worker-0": "sparc"}}, {"os": "rhel"}, {"machine_configs": ["x"]}, {"topology": "ha"}):
        with pytest.raises(ValueError):
            topology.Shape.make(**bad)


def test_nodes_per_architecture_and_os():
    n = topology.build_node("worker-1", ("worker",), 4, arch="arm64", os_name="scos",
                            release=releases.release("4.16"))
    labels, info = n["metadata"]["labels"], n["status"]["nodeInfo"]
    assert labels["kubernetes.io/arch"] == labels["beta.kubernetes.io/arch"] == info["architecture"] == "arm64"
    assert info["kernelVersion"].endswith(".aarch64") and info["osImage"].startswith("CentOS Stream CoreOS 416.")
    assert labels["node.openshift.io/os_id"] == "scos"
    assert info["kubeletVersion"].startswith("v1.29.") and info["containerRuntimeVersion"].startswith("cri-o://1.29.")
    assert not any(k in labels for k in (NFD_VMX, NFD_KATA, NFD_SIE, NFD_HYPERVISOR))
    assert any(k.startswith("feature.node.kubernetes.io/") for k in labels)
    z = topology.build_node("worker-2", ("worker",), 5, arch="s390x")["metadata"]["labels"]
    assert z[NFD_SIE] == "true" and NFD_VMX not in z and NFD_KATA not in z
    f = topology.build_node("worker-0", ("worker",), 0, os_name="fcos", nfd=False)
    assert f["metadata"]["labels"]["node.openshift.io/os_id"] == "fedora"
    assert not any(k.startswith("feature.node.kubernetes.io/") for k in f["metadata"]["labels"])
    assert f["status"]["nodeInfo"]["osImage"].startswith("Fedora CoreOS")
    m = topology.build_node("master-0", ("master",), 0, schedulable_masters=True)
    assert "node-role.kubernetes.io/worker" in m["metadata"]["labels"] and "taints" not in m["spec"]


def test_master_reconcile():
    m = topology.build_node("master-0", ("master",), 0)
    labels, taints = P.master_reconcile(m, True, True)
    assert labels == {"node-role.kubernetes.io/worker": ""} and taints == []
    assert P.master_reconcile(m, False, True) == ({}, None)
    s = topology.build_node("master-0", ("master",), 0, schedulable_masters=True)
    del s["metadata"]["labels"]["node-role.kubernetes.io/control-plane"]
    labels, taints = P.master_reconcile(s, False, True)
    assert labels == {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": None}
    assert taints == [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]
    # 4.14/4.15 do not add the control-plane label
    assert P.master_reconcile(s, True, False) == ({}, None)


def pod(sc: dict | None = None, csc: dict | None = None, inits: bool = False) -> dict:
    app = {"name": "app", "image": "registry.invalid/x:1", **({"securityContext": csc} if csc else {})}
    spec: dict = {"containers": [app, {"name": "side", "image": "registry.invalid/y:1"}]}
    if sc:
        spec["securityContext"] = sc
    if inits:
        spec["initContainers"] = [{"name": "init", "image": "registry.invalid/x:1",
                                   **({"securityContext": csc} if csc else {})}]
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"}, "spec": spec, "status": {}}


def test_run_as_non_root_messages():
    where = '(pod: "p_ns(u-1)", container: app)'
    p = pod({"runAsNonRoot": True})
    app = p["spec"]["containers"][0]
    assert podstatus.verify_run_as_non_root(p, app, "0") == (
        f"container has runAsNonRoot and image will run as root {where}")
    assert podstatus.verify_run_as_non_root(p, app, "") == (
        f"container has runAsNonRoot and image will run as root {where}")  # no USER: root
    assert podstatus.verify_run_as_non_root(p, app, "0:0") is not None
    assert podstatus.verify_run_as_non_root(p, app, "1001") is None
    assert podstatus.verify_run_as_non_root(p, app, "1001:0") is None
    assert podstatus.verify_run_as_non_root(p, app, "root") == (
        f"container has runAsNonRoot and image has non-numeric user (root), cannot verify user is non-root {where}")
    p = pod({"runAsNonRoot": True}, {"runAsUser": 0})
    assert podstatus.verify_run_as_non_root(p, p["spec"]["containers"][0], "1001") == (
        f"container's runAsUser breaks non-root policy {where}")
    p = pod({"runAsNonRoot": True}, {"runAsUser": 1000680000})
    assert podstatus.verify_run_as_non_root(p, p["spec"]["containers"][0], "0") is None
    p = pod(None, {"runAsNonRoot": False})
    assert podstatus.verify_run_as_non_root(p, p["spec"]["containers"][0], "0") is None
    p = pod({"runAsNonRoot": False}, {"runAsNonRoot": True})  # the container's wins
    assert podstatus.verify_run_as_non_root(p, p["spec"]["containers"][0], "0") is not None
    huge = podstatus.verify_run_as_non_root(pod({"runAsNonRoot": True}), app, str(2**31))
    assert huge is not None
    assert huge.startswith("container has runAsNonRoot and image has an invalid user id (2147483648)")
    assert podstatus.verify_run_as_non_root(pod({"runAsNonRoot": True}), app, str(2**31), kube_minor=27) is None


def test_config_error_status():
    p = pod({"runAsNonRoot": True})
    st = podstatus.config_error(p, "10.0.0.10", "10.128.0.5", "T1", {"app": "boom"})
    assert st["phase"] == "Pending" and st["podIP"] == "10.128.0.5"
    app, side = st["containerStatuses"]
    assert app["state"] == {"waiting": {"reason": "CreateContainerConfigError", "message": "boom"}}
    assert "running" in side["state"]
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["PodReadyToStartContainers"]["status"] == "True"
    assert conds["Ready"]["message"] == "containers with unready status: [app]"
    st = podstatus.config_error(pod(inits=True), "h", "ip", "T1", {"init": "boom"})
    assert st["initContainerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    assert {c["state"]["waiting"]["reason"] for c in st["containerStatuses"]} == {"PodInitializing"}
    assert {c["type"]: c["status"] for c in st["conditions"]}["Initialized"] == "False"
