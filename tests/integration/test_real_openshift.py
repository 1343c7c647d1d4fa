"""Clusters that look like real OpenShift clusters, not one picture of it (issue: real OpenShift).

Schedulable control-plane nodes, an infra pool, architectures, an extension-carrying worker MachineConfig, what
the operator and kata-deploy leave behind, a CRI-O that refuses its configuration after the reboot, verify as a
cluster administrator, and check mode on every path: each on the local cluster, with the real ansible-playbook.
"""

from __future__ import annotations

import re
import time

import pytest
from kubernetes import client

from sim import testing as st
from support import FAST, MC_NAME, clean_up, handler_nodes, openshift_release, run_pods, snapshot

MASTERS = {"master-0": 0, "master-1": 0, "master-2": 0}
SEL = {"sandboxed_containers_node_selector": {"matchLabels": {"sandboxed": "yes"}}}


def choose(api, *nodes: str, unchoose: tuple[str, ...] = ()) -> None:
    for n in nodes:
        st.label_node(api, n, {"sandboxed": "yes"})
    for n in unchoose:
        st.label_node(api, n, {"sandboxed": None})


@pytest.fixture
def reset_after(cluster):
    """For tests that change the cluster's shape: a standard cluster again afterwards."""
    api = cluster.api()
    clean_up(api)
    yield api
    clean_up(api)
    st.reset(api, topology="standard", workers=3, **FAST)


# -- item 2: nodes the RuntimeClass selects without the handler ------------------------------------------------

@pytest.mark.parametrize("shape", [
    {"topology": "compact", "workers": 2},
    {"topology": "standard", "workers": 2, "masters_schedulable": True},
], ids=["compact-with-two-workers", "standard-with-schedulable-masters"])
def test_sandboxed_pods_never_land_on_control_plane_nodes_without_the_handler(cluster, ansible, reset_after, shape):
    api = reset_after
    st.reset(api, **shape, **FAST)
    masters = sorted(n["metadata"]["name"] for n in st.nodes(api) if n["metadata"]["name"].startswith("master-"))
    assert all("node-role.kubernetes.io/worker" in (n["metadata"].get("labels") or {})
               for n in st.nodes(api) if n["metadata"]["name"] in masters)  # schedulable: the MCO adds the role
    r = ansible.run("install")
    assert r.rc == 0, r
    assert r.report["target_pool"] == "worker"
    assert st.reboots(api) == {**dict.fromkeys(masters, 0), "worker-0": 1, "worker-1": 1}
    rc = client.NodeV1Api(api).read_runtime_class("kata")
    selected = sorted(n["metadata"]["name"] for n in st.nodes(api)
                      if all((n["metadata"].get("labels") or {}).get(k) == v
                             for k, v in rc.scheduling.node_selector.items()))
    assert selected == ["worker-0", "worker-1"] == handler_nodes(api)
    pods = run_pods(api, "kata", count=6)
    assert {p.spec.node_name for p in pods} <= {"worker-0", "worker-1"}
    assert "are schedulable workers too, but the MCO keeps them in the master pool" in r.text


# -- item 9: pools that inherit the worker configs --------------------------------------------------------------

def test_an_infra_pool_that_inherits_the_worker_configs_is_planned_and_waited_for(cluster, ansible, reset_after):
    api = reset_after
    st.reset(api, topology="standard", workers=2, infra=1, **FAST)
    r = ansible.run("install")
    assert r.rc == 0, r
    assert r.report["plan"]["reboot"] == ["infra-0", "worker-0", "worker-1"]
    assert "pools infra inherit the worker MachineConfigs, so their nodes (infra-0) get sandboxed containers too" \
        in r.text
    assert st.reboots(api) == {**MASTERS, "infra-0": 1, "worker-0": 1, "worker-1": 1}
    infra = st.pool(api, "infra")
    assert MC_NAME in [s["name"] for s in infra["spec"]["configuration"]["source"]]
    assert infra["status"]["updatedMachineCount"] == infra["status"]["machineCount"] == 1
    assert "pool_wait: " in r.output and "infra: 1/1 updated" in r.text  # the wait covered the infra pool
    assert handler_nodes(api) == ["infra-0", "worker-0", "worker-1"]  # it has the handler, so it is selected
    assert r.report["installed"] is True
    r = ansible.run("uninstall")
    assert r.rc == 0, r
    assert st.reboots(api) == {**MASTERS, "infra-0": 2, "worker-0": 2, "worker-1": 2}
    assert MC_NAME not in [s["name"] for s in st.pool(api, "infra")["spec"]["configuration"]["source"]]


# -- item 4: architectures --------------------------------------------------------------------------------------

def test_an_arm64_worker_is_refused_before_any_change_and_s390x_is_accepted(cluster, ansible, reset_after):
    api = reset_after
    st.reset(api, topology="standard", workers=3, arch={"worker-1": "arm64"}, **FAST)
    before = snapshot(api)
    r = ansible.run("install")
    assert r.rc != 0, r
    assert "chosen nodes worker-1 (arm64) cannot run sandboxed containers" in r.text
    assert "Nothing was changed" in r.text
    assert snapshot(api) == before
    # With a selector, the setting leaves it out instead.
    choose(api, "worker-0", "worker-1")
    r = ansible.run("install", extra_vars={**SEL, "sandboxed_containers_unsupported_architecture": "exclude"})
    assert r.rc == 0, r
    assert "left out worker-1 (arm64)" in r.text
    assert st.reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 0, "worker-2": 0}
    clean_up(api)
    st.reset(api, topology="standard", workers=3, arch={"worker-1": "s390x"}, **FAST)
    r = ansible.run("install")
    assert r.rc == 0, r
    assert st.reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 1, "worker-2": 1}
    assert handler_nodes(api) == ["worker-0", "worker-1", "worker-2"]


# -- item 3: a CRI-O drop-in that CRI-O refuses -----------------------------------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    ({"sandboxed_containers_crio_extra_options": {"runtime_pull_image": "true"}},
     "runtime_pull_image must be a bool, not the string 'true'"),
    ({"sandboxed_containers_crio_extra_options": {"runtime_pth": "/usr/bin/x"}},
     "has the key 'runtime_pth', which CRI-O does not know"),
    ({"sandboxed_containers_crio_runtime_path": "containerd-shim-kata-v2"},
     "runtime_path 'containerd-shim-kata-v2' must be an absolute path"),
    ({"sandboxed_containers_crio_allowed_annotations": ["io.katacontainers.*"]},
     "allowed_annotations has 'io.katacontainers.*', which CRI-O 1.34"),
], ids=["wrong-type", "unknown-key", "relative-path", "annotation"])
def test_a_dropin_crio_would_refuse_is_refused_before_any_change(cluster, ansible, fresh, extra, message):
    api = fresh
    before = snapshot(api)
    r = ansible.run("install", extra_vars=extra)
    assert r.rc != 0, r
    assert message in r.text, r.text[-3000:]
    assert "Nothing was changed" in r.text
    assert snapshot(api) == before


def test_a_node_notready_after_its_reboot_fails_the_wait_within_30_s_naming_it(cluster, ansible, fresh):
    api = fresh
    st.configure(api, node_update=1.0)
    # CRI-O will not start after worker-1's next reboot: its kubelet cannot start, nothing on it reports.
    st.crio_fails(api, "worker-1", "unable to decode configuration /etc/crio/crio.conf.d/51-sandboxed-containers: "
                                   "toml: line 3")
    down = {}

    def not_ready() -> bool:
        n = next(x for x in st.nodes(api) if x["metadata"]["name"] == "worker-1")
        ready = next((c for c in n["status"].get("conditions") or [] if c["type"] == "Ready"), {})
        rebooted = int(n["metadata"]["annotations"].get("sim.sandboxed.containers/reboots", "0")) > 0
        if ready.get("status") != "True" and rebooted:
            down.setdefault("t", time.monotonic())
        return False

    proc = ansible.start("install", extra_vars={"sandboxed_containers_reboot_timeout": 5})
    while proc.poll() is None:
        not_ready()
        time.sleep(0.1)
    ended = time.monotonic()
    out = proc.stdout.read()
    assert proc.returncode != 0, out
    text = " ".join(out.split())
    assert "node worker-1 has not come back from its reboot into rendered-worker-" in text, text[-3000:]
    assert "CRI-O that refuses its configuration" in text
    assert "docs/troubleshooting.md" in text
    assert "t" in down and ended - down["t"] < 30, f"failed {ended - down.get('t', 0):.1f} s after NotReady"
    pool = st.pool(api, "worker")
    assert (st.condition(pool, "Degraded") or {}).get("status") != "True"  # the MCO never says so itself


# -- item 6: reboots the plan does not predict ------------------------------------------------------------------

def _planned_and_counted(api, ansible, extra_vars: dict) -> tuple[list[str], list[str]]:
    """The nodes check mode says reboot, and the nodes that then rebooted (each exactly once)."""
    r = ansible.run("install", check=True, extra_vars=extra_vars)
    assert r.rc == 0, r
    m = re.search(r"Nodes that reboot once: ([^;]+);", r.text)
    printed = sorted(m.group(1).split(", ")) if m else []
    assert printed == sorted(r.report["plan"]["reboot"])
    before = st.reboots(api)
    r = ansible.run("install", extra_vars=extra_vars)
    assert r.rc == 0, r
    after = st.reboots(api)
    assert all(after[n] - before[n] in (0, 1) for n in after), (before, after)
    return printed, sorted(n for n in after if after[n] != before[n])


def test_with_an_extension_carrying_worker_config_check_mode_predicts_every_reboot(cluster, ansible, reset_after):
    api = reset_after
    release = openshift_release(api)
    if release >= (4, 15):
        # The network operator's 80-ipsec-worker-extensions (and its master twin), as with IPsec enabled.
        st.reset(api, topology="standard", workers=3, machine_configs=["ipsec"], **FAST)
        name = "80-ipsec-worker-extensions"
    else:
        # 4.14 has no IPsec extension MachineConfig: a user's own worker MachineConfig with an extension.
        st.reset(api, topology="standard", workers=3, **FAST)
        name = "80-worker-usbguard"
        st.create_mc(api, st.machine_config(name, "worker", extensions=["usbguard"]))
        st.wait_pool_converged(api, "worker", contains=[name])
    assert name in {m["metadata"]["name"] for m in st.kube(api).get(
        "/apis/machineconfiguration.openshift.io/v1/machineconfigs")["items"]}
    everyone = ["worker-0", "worker-1", "worker-2"]
    assert _planned_and_counted(api, ansible, {}) == (everyone, everyone)
    choose(api, "worker-0", "worker-1")
    # worker -> custom: from 4.15 the custom pool renders worker-role configs first, so the extension list is
    # reordered and the chosen nodes reboot too; 4.14 sorts every config by name and does not reorder.
    reordered = release >= (4, 15)
    planned, counted = _planned_and_counted(api, ansible, SEL)
    assert planned == counted == (everyone if reordered else ["worker-2"])
    choose(api, "worker-2", unchoose=("worker-0",))
    planned, counted = _planned_and_counted(api, ansible, SEL)  # a selection change
    assert planned == counted == ["worker-0", "worker-2"]
    planned, counted = _planned_and_counted(api, ansible, {})  # custom -> worker
    assert planned == counted == (everyone if reordered else ["worker-0"])


# -- item 8: leftovers and neighbours ------------------------------------------------------------------------------

def test_the_operators_leftover_machineconfig_is_named_before_any_change(cluster, ansible, reset_after):
    api = reset_after
    st.reset(api, topology="standard", workers=3, machine_configs=["osc-leftover"], **FAST)
    before = snapshot(api)
    r = ansible.run("install")
    assert r.rc != 0, r
    assert "MachineConfig 50-enable-sandboxed-containers-extension (left by the OpenShift sandboxed containers " \
        "operator" in r.text
    assert "oc delete machineconfig 50-enable-sandboxed-containers-extension" in r.text
    assert snapshot(api) == before


def test_kata_deploy_and_a_layered_pool_are_named_before_any_change(cluster, ansible, fresh):
    api = fresh
    before = snapshot(api)
    st.label_node(api, "worker-2", {"katacontainers.io/kata-runtime": "true"})
    r = ansible.run("install")
    assert r.rc != 0 and "kata-deploy manages Kata Containers on nodes worker-2" in r.text, r
    st.label_node(api, "worker-2", {"katacontainers.io/kata-runtime": None})
    moc = {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineOSConfig",
           "metadata": {"name": "worker"},
           "spec": {"machineConfigPool": {"name": "worker"}, "imageBuilder": {"imageBuilderType": "Job"},
                    "renderedImagePushSecret": {"name": "push"},
                    "renderedImagePushSpec": "registry.invalid/os/worker:latest"}}
    st.kube(api).create("/apis/machineconfiguration.openshift.io/v1/machineosconfigs", moc)
    try:
        r = ansible.run("install")
        assert r.rc != 0 and "pool worker is built with on-cluster image layering (MachineOSConfig worker)" in r.text, r
    finally:
        st.kube(api).delete("/apis/machineconfiguration.openshift.io/v1/machineosconfigs/worker")
    assert snapshot(api) == before


def test_a_paused_worker_pool_is_named_when_the_custom_path_is_taken(cluster, ansible, fresh):
    api = fresh
    choose(api, "worker-0")
    st.patch_pool_spec(api, "worker", {"paused": True})
    before = snapshot(api)
    r = ansible.run("install", extra_vars=SEL)
    assert r.rc != 0, r
    assert "pool worker (the chosen nodes move between it and the custom pool) is paused" in r.text
    assert snapshot(api) == before


# -- item 7: verify as cluster-admin ---------------------------------------------------------------------------------

def test_verify_passes_as_admin_and_as_automation_with_an_image_that_runs_as_root(cluster, ansible, fresh):
    api = fresh
    assert ansible.run("install").rc == 0
    image = "registry.invalid/ubi9/ubi-minimal:latest"
    st.configure(api, image_users={image: "0"})
    # What the kubelet does to a runAsNonRoot pod of a root image that an administrator creates: anyuid gives it
    # no user, and the container is refused.
    core = client.CoreV1Api(api)
    ns = f"rootcheck-{int(time.time())}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns, labels={"sandboxed-test": "true"})))
    st.wait_for(lambda: core.list_namespaced_service_account(ns).items, 30, what="the default service account")
    core.create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name="root"),
        spec=client.V1PodSpec(runtime_class_name="kata", node_selector={"kubernetes.io/hostname": "worker-0"},
                              containers=[client.V1Container(name="c", image=image, security_context=client.
                                                             V1SecurityContext(run_as_non_root=True))])))
    st.wait_for(lambda: any(e.reason == "Failed" and "container has runAsNonRoot and image will run as root"
                            in e.message for e in core.list_namespaced_event(ns).items), 30,
                what="the kubelet's refusal")
    extra = {"sandboxed_containers_verify_image": image}
    r = ansible.run("verify", extra_vars=extra)
    assert r.rc == 0, r.text[-3000:]
    assert {n: v["ok"] for n, v in r.report["verify"].items()} == dict.fromkeys(["worker-0", "worker-1", "worker-2"],
                                                                                True)
    r = ansible.run("automation_access", extra_vars={
        "sandboxed_containers_automation_subjects": [{"kind": "User", "name": "automation"}],
        "sandboxed_containers_automation_verify": True})
    assert r.rc == 0, r
    st.wait_for(lambda: ansible.run("verify", user="automation", extra_vars=extra).rc == 0, 60,
                what="verify as the automation")


# -- item 10: check mode on every path ---------------------------------------------------------------------------

def test_check_mode_succeeds_and_shows_the_plan_on_every_path(cluster, ansible, fresh):
    # A fresh install in check mode (both paths) is tested in test_install; here every path from an installation.
    api = fresh

    def check(playbook: str, extra: dict, expect: str) -> None:
        before = snapshot(api)
        r = ansible.run(playbook, check=True, extra_vars=extra)
        assert r.rc == 0, r
        assert expect in r.text, r.text[-3000:]
        assert snapshot(api) == before

    choose(api, "worker-0", "worker-1")
    assert ansible.run("install", extra_vars=SEL).rc == 0
    check("upgrade", SEL, "Would upgrade on worker-0, worker-1 through pool kata-oc")
    choose(api, "worker-2", unchoose=("worker-0",))
    check("install", SEL, "Nodes that reboot once: worker-0, worker-2; no other node reboots.")  # selection change
    check("install", {}, "Nodes that reboot once: worker-2; no other node reboots.")  # custom -> worker
    # The custom pool path: its nodes leave it only in the dry run, so its deletion is planned, not refused.
    check("uninstall", {}, "Nodes that reboot once: worker-0, worker-1; no other node reboots.")
    assert ansible.run("install").rc == 0  # custom -> worker, for real
    check("install", SEL, "Nodes that reboot once: worker-0; no other node reboots.")  # worker -> custom
    check("uninstall", {}, "Nodes that reboot once: worker-0, worker-1, worker-2; no other node reboots.")


# -- bad input: the report path -------------------------------------------------------------------------------------

def test_a_report_path_whose_directory_does_not_exist_is_refused_before_any_change(cluster, ansible, fresh, tmp_path):
    api = fresh
    before = snapshot(api)
    r = ansible.run("install", extra_vars={"sandboxed_containers_report_path": str(tmp_path / "nowhere" / "r.json")})
    assert r.rc != 0, r
    assert f"the directory {tmp_path / 'nowhere'} does not exist" in r.text
    assert snapshot(api) == before


# -- item 11: OKD ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("os", ["scos", "fcos"])
def test_the_extension_is_named_for_the_nodes_operating_system(cluster, ansible, reset_after, os):
    api = reset_after
    release = openshift_release(api)
    st.reset(api, topology="standard", workers=2, os=os, **FAST)
    r = ansible.run("install", check=True)
    if os == "fcos" and release >= (4, 16):
        # The MCO checks extension names against the RHCOS allow-list from 4.16, so Fedora CoreOS has none.
        assert r.rc != 0 and "runs Fedora CoreOS" in r.text and "Nothing was changed" in r.text, r
        return
    extension = "kata-containers" if os == "fcos" else "sandboxed-containers"
    assert r.rc == 0, r
    assert f"(extension {extension}, OpenShift {release[0]}.{release[1]}" in r.text
    r = ansible.run("install")
    assert r.rc == 0, r
    mc = st.kube(api).get(f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{MC_NAME}")
    assert mc["spec"]["extensions"] == [extension]
    assert st.reboots(api) == {**MASTERS, "worker-0": 1, "worker-1": 1}
    pods = run_pods(api, "kata", count=2)
    assert {p.spec.node_name for p in pods} <= {"worker-0", "worker-1"}


# -- item 5: the RPM's own drop-in ---------------------------------------------------------------------------------

def test_the_collections_dropin_does_not_mask_the_kata_rpms_own(cluster, ansible, fresh):
    """With another handler name, the RPM's kata handler (its /etc/crio/crio.conf.d/50-kata) still works: the
    collection's file has a name of its own and no longer hides the RPM's."""
    api = fresh
    r = ansible.run("install", extra_vars={"sandboxed_containers_handler": "kata-custom",
                                           "sandboxed_containers_runtime_class_name": "kata-custom"})
    assert r.rc == 0, r
    assert handler_nodes_of(api, "kata-custom") == ["worker-0", "worker-1", "worker-2"]
    assert {p.spec.node_name for p in run_pods(api, "kata-custom", count=3)} <= {"worker-0", "worker-1", "worker-2"}
    on_our_nodes = client.V1Scheduling(node_selector={"sandboxed.containers/handler": "kata-custom"})
    client.NodeV1Api(api).create_runtime_class(client.V1RuntimeClass(
        metadata=client.V1ObjectMeta(name="kata-rpm"), handler="kata", scheduling=on_our_nodes))
    pods = run_pods(api, "kata-rpm", count=2)
    assert all(p.status.phase == "Running" for p in pods)


def handler_nodes_of(api, handler: str) -> list[str]:
    return sorted(n["metadata"]["name"] for n in st.nodes(api)
                  if (n["metadata"].get("labels") or {}).get("sandboxed.containers/handler") == handler)
