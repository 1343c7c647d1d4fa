"""Day 0: manifests created before the first node (sim.testing.reset(manifests=...)) and the ACM CRDs."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from localcluster import ClusterError, LocalCluster, Settings
from localcluster import manifests as lm
from localcluster.bootstrap import api_client, install_acm_crds
from sim import testing as st
from sim.constants import CURRENT_CONFIG, FIRST_PIVOT_CONFIG, STATE, STATE_DONE
from sim.kube import ApiError, mc_path

FAST = {"render_delay": 1, "node_update": 0.5}  # as conftest.FAST
KATA_MC = "50-sandboxed-containers"
RUNTIME_CLASS = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                 "metadata": {"name": "kata-day0"}, "handler": "kata"}


def kata_mc() -> dict:
    return st.machine_config(KATA_MC, "worker", extensions=["sandboxed-containers"],
                             files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()})


def test_reset_with_manifests_boots_workers_into_them(api, figure):
    t0 = time.monotonic()
    st.reset(api, topology="standard", workers=3, manifests=[kata_mc(), RUNTIME_CLASS], **FAST)
    figure(f"reset with day-0 manifests (3 masters, 3 workers): {time.monotonic() - t0:.1f} s")
    try:
        worker = st.pool(api, "worker")
        cfg = worker["spec"]["configuration"]
        assert KATA_MC in {s["name"] for s in cfg["source"]}
        assert st.wait_pool_converged(api, "worker", contains=[KATA_MC])
        for n in st.nodes(api, "worker"):
            a = n["metadata"]["annotations"]
            assert a[CURRENT_CONFIG] == cfg["name"] and a[STATE] == STATE_DONE and FIRST_PIVOT_CONFIG not in a
            if st.knobs(api).release.runtime_handlers_reported:
                assert "kata" in [h["name"] for h in n["status"].get("runtimeHandlers") or []]
        assert set(st.reboots(api).values()) == {0}
        client.NodeV1Api(api).read_runtime_class("kata-day0")

        st.reset(api, **FAST)
        with pytest.raises(ApiError) as e:
            st.kube(api).get(mc_path(KATA_MC))
        assert e.value.not_found
        worker = st.pool(api, "worker")
        assert KATA_MC not in {s["name"] for s in worker["spec"]["configuration"]["source"]}
        assert {n["metadata"]["annotations"][CURRENT_CONFIG] for n in st.nodes(api, "worker")} == {
            worker["spec"]["configuration"]["name"]}
    finally:
        client.NodeV1Api(api).delete_runtime_class("kata-day0")


def test_reset_with_a_custom_pool_manifest_renders_it(api):
    pool = st.custom_pool("kata-oc")
    mc = st.machine_config(KATA_MC, "kata-oc", extensions=["sandboxed-containers"])
    st.reset(api, manifests=[pool, mc], **FAST)
    p = st.pool(api, "kata-oc")
    assert KATA_MC in {s["name"] for s in p["status"]["configuration"]["source"]}
    st.reset(api, **FAST)
    assert "kata-oc" not in {q["metadata"]["name"] for q in st.pools(api)}


def test_reset_refuses_a_manifest_the_api_server_refuses(api):
    bad = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "Not_A_Name"},
           "handler": "kata"}
    with pytest.raises(ApiError) as e:
        st.reset(api, manifests=[bad], **FAST)
    assert e.value.status == 422 and "Not_A_Name" in e.value.message


POLICY = {
    "apiVersion": "policy.open-cluster-management.io/v1", "kind": "Policy",
    "metadata": {"name": "sandboxed-containers", "namespace": "default"},
    "spec": {"disabled": False, "remediationAction": "inform", "policy-templates": [{"objectDefinition": {
        "apiVersion": "policy.open-cluster-management.io/v1", "kind": "ConfigurationPolicy",
        "metadata": {"name": "sandboxed-containers-mc"},
        "spec": {"remediationAction": "inform", "severity": "low", "object-templates": [
            {"complianceType": "musthave", "objectDefinition": kata_mc()}]}}}]},
}


def test_acm_crds_validate_policies(api):
    install_acm_crds(api)
    objs = client.CustomObjectsApi(api)

    def dry_run(body: dict) -> dict:
        return objs.create_namespaced_custom_object(
            "policy.open-cluster-management.io", "v1", "default", "policies", body, dry_run="All")

    assert dry_run(POLICY)["metadata"]["name"] == "sandboxed-containers"
    bad = {**POLICY, "spec": {**POLICY["spec"], "remediationAction": "sometimes"}}
    with pytest.raises(ApiException) as e:
        dry_run(bad)
    assert e.value.status == 422 and "remediationAction" in e.value.body


def test_a_fresh_cluster_creates_the_manifests_dir_before_its_nodes(tmp_path, figure):
    d = tmp_path / "openshift"
    d.mkdir()
    (d / "50-kata.yaml").write_text(json.dumps(kata_mc()) + "\n---\n" + json.dumps(RUNTIME_CLASS) + "\n")
    local = LocalCluster(tmp_path / "c")
    t0 = time.monotonic()
    try:
        local.up(Settings(workers=1, render_delay=1, node_update=0.5, manifests_dir=str(d)), quiet=True)
        figure(f"fresh cluster with CLUSTER_MANIFESTS_DIR (1 worker): {time.monotonic() - t0:.1f} s")
        assert local.settings().manifests_dir == str(d)
        api = api_client(local.kubeconfig)
        try:
            cfg = st.pool(api, "worker")["spec"]["configuration"]
            assert KATA_MC in {s["name"] for s in cfg["source"]}
            a = next(n for n in st.nodes(api) if n["metadata"]["name"] == "worker-0")["metadata"]["annotations"]
            assert a[CURRENT_CONFIG] == cfg["name"] and a[STATE] == STATE_DONE and FIRST_PIVOT_CONFIG not in a
            assert st.reboots(api)["worker-0"] == 0
            client.NodeV1Api(api).read_runtime_class("kata-day0")
        finally:
            st.kube(api).close()
            api.close()
    finally:
        local.down()


@pytest.mark.parametrize(("obj", "why"), [
    ({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "Bad_Name"}, "handler": "kata"},
     "RuntimeClass Bad_Name was refused by the API server: RuntimeClass.node.k8s.io \"Bad_Name\" is invalid"),
    ({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
     "Widget w: the API server serves no Widget in example.com/v1"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
     "ConfigMap cm: a ConfigMap needs metadata.namespace"),
])
def test_a_refused_manifest_names_its_file(api, tmp_path, obj, why):
    f = tmp_path / "10-bad.yaml"
    with pytest.raises(ClusterError) as e:
        lm.create(api, [(f, obj)])
    assert str(e.value).startswith(f"{f}: {why}")
