"""The API server of a local cluster is the one of its OpenShift release (CLUSTER_OPENSHIFT_VERSION).

One cluster per release, started once for the module (each test runs against
4.14, 4.16 and 4.21 in turn); what a release serves is read from the release
table (sim/releases.py), so the expectations and the cluster cannot drift apart.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from localcluster import LocalCluster, Settings
from localcluster.bootstrap import api_client
from localcluster.cluster import release

VERSIONS = ("4.14", "4.16", "4.21")
ADMISSION = "/apis/admissionregistration.k8s.io"
VAP = "validatingadmissionpolicies"
VAPB = "validatingadmissionpolicybindings"
POOL_POLICY = "custom-machine-config-pool-selector"


@dataclass
class Released:
    version: str
    release: Any  # sim.releases.Release
    local: LocalCluster
    api: client.ApiClient

    def get(self, path: str) -> tuple[int, dict]:
        """GET a raw API path: (status, body)."""
        method, url, headers, _body, _post = self.api.param_serialize(
            "GET", path, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        resp = self.api.rest_client.request(method, url, headers=headers)
        data = resp.read()
        return resp.status, (json.loads(data) if resp.status == 200 else {})

    def resources(self, group_version: str) -> set[str]:
        status, body = self.get(f"/apis/{group_version}")
        return {r["name"] for r in body.get("resources", [])} if status == 200 else set()


@pytest.fixture(scope="module", params=VERSIONS)
def rc(request, tmp_path_factory) -> Iterator[Released]:
    version = request.param
    local = LocalCluster(tmp_path_factory.mktemp(f"ocp-{version}"))
    local.up(Settings(openshift_version=version, workers=1, render_delay=1, node_update=0.5), quiet=True)
    api = api_client(local.kubeconfig)
    try:
        yield Released(version, release(version), local, api)
    finally:
        api.close()
        local.down()


def test_validating_admission_policy_is_served_from_4_17(rc):
    v1 = rc.resources("admissionregistration.k8s.io/v1")
    # The rest of the group stays served on every release.
    assert {"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} <= v1
    assert (VAP in v1, VAPB in v1) == (rc.release.vap_v1, rc.release.vap_v1)
    expected = 200 if rc.release.vap_v1 else 404
    assert rc.get(f"{ADMISSION}/v1/{VAP}")[0] == expected
    assert rc.get(f"{ADMISSION}/v1/{VAPB}")[0] == expected
    # v1beta1 serves only the MutatingAdmissionPolicy the SCC emulation needs.
    beta = {r for r in rc.resources("admissionregistration.k8s.io/v1beta1") if "/" not in r}
    assert beta == {"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}


def test_controllers_run_without_policy_errors(rc):
    args = _cmdline(rc.local.pid("kube-controller-manager"))
    controllers = next(a for a in args if a.startswith("--controllers=")).split("=", 1)[1].split(",")
    assert ("validatingadmissionpolicy-status-controller" in controllers) == rc.release.vap_v1
    # Without the API, an enabled ValidatingAdmissionPolicy plugin would fail to list it forever.
    for log in ("kube-apiserver.log", "kube-controller-manager.log"):
        text = (rc.local.logs / log).read_text()
        assert "failed to list *v1.ValidatingAdmissionPolicy" not in text, log


def test_cluster_version_reports_the_release(rc):
    cv = DynamicClient(rc.api).resources.get(api_version="config.openshift.io/v1", kind="ClusterVersion") \
        .get(name="version").to_dict()
    assert cv["spec"]["channel"] == f"stable-{rc.version}"
    assert cv["status"]["desired"]["version"] == f"{rc.version}.0" == rc.release.full_version
    assert [h["version"] for h in cv["status"]["history"]] == [f"{rc.version}.0"]
    assert cv["status"]["history"][0]["state"] == "Completed"


def test_mco_custom_pool_policy_from_4_18(rc):
    dyn = DynamicClient(rc.api)
    present = rc.get(f"{ADMISSION}/v1/{VAP}/{POOL_POLICY}")[0] == 200
    assert present == rc.release.mco_custom_pool_vap
    pools = dyn.resources.get(api_version="machineconfiguration.openshift.io/v1", kind="MachineConfigPool")
    body = {
        "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
        "metadata": {"name": "infra-no-worker"},
        "spec": {"machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "infra"}},
                 "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/infra": ""}}},
    }
    if rc.release.mco_custom_pool_vap:
        with pytest.raises(ApiException) as e:
            pools.create(body=body, query_params=[("dryRun", "All")])
        assert e.value.status == 422
        assert "must inherit from the worker pool" in json.loads(e.value.body)["message"]
    else:
        pools.create(body=body, query_params=[("dryRun", "All")])  # nothing refuses it before 4.18


def test_extra_openshift_crds(rc):
    assert "schedulers" in rc.resources("config.openshift.io/v1")
    mco = rc.resources("machineconfiguration.openshift.io/v1")
    assert "machineconfigs" in mco
    assert ("machineosconfigs" in mco) == rc.release.machine_os_config_v1


def test_scc_admission_on_every_release(rc):
    core = client.CoreV1Api(rc.api)
    ns = f"scc-{uuid.uuid4().hex[:6]}"
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    assert created.metadata.annotations["openshift.io/sa.scc.uid-range"] == "1000680000/10000"
    try:
        _wait_default_sa(core, ns)
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="p", annotations={"openshift.io/required-scc": "restricted-v2"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.invalid/pause:3")]))
        got = core.create_namespaced_pod(ns, pod, dry_run="All")
        assert got.metadata.annotations["openshift.io/scc"] == "restricted-v2"
        assert got.spec.containers[0].security_context.run_as_user == 1000680000
    finally:
        core.delete_namespace(ns)


def test_restart_keeps_the_release(rc):
    if rc.release.vap_v1:
        pytest.skip("shown on a release without the ValidatingAdmissionPolicy API")
    # A cluster-up asked for another release while etcd runs bootstraps the stored one again...
    rc.local.stop("kube-scheduler")
    assert rc.local.up(Settings(openshift_version="4.21"), quiet=True) is True
    assert rc.local.settings().openshift_version == rc.version
    assert "machineosconfigs" not in rc.resources("machineconfiguration.openshift.io/v1")
    assert rc.get(f"{ADMISSION}/v1/{VAP}/{POOL_POLICY}")[0] == 404
    # ...and a restarted component gets the flags of the stored release.
    rc.local.restart("kube-controller-manager")
    args = _cmdline(rc.local.pid("kube-controller-manager"))
    assert "validatingadmissionpolicy-status-controller" not in next(a for a in args if a.startswith("--controllers="))
    state = rc.local.state()
    argv = rc.local._argv("kube-apiserver", Path(state["bin_dir"]), state)
    assert "--disable-admission-plugins=ValidatingAdmissionPolicy" in argv
    assert argv == _cmdline(rc.local.pid("kube-apiserver"))


def _cmdline(pid: int | None) -> list[str]:
    assert pid is not None
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def _wait_default_sa(core: client.CoreV1Api, ns: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_service_account("default", ns)
            return
        except ApiException:
            time.sleep(0.1)
    raise AssertionError(f"no default service account in {ns} after {timeout} s")
