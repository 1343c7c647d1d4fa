"""Older OpenShift releases: 4.16 (and 4.14 through make demo), on local clusters of their own.

The session's cluster is the newest release; these start clusters whose API server serves the API surface of an
older release (no ValidatingAdmissionPolicy before 4.17) and whose simulated MCO follows that release.
`make test-matrix` runs the install, upgrade and uninstall tests on 4.14 as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from localcluster import LocalCluster, Settings
from localcluster.pytest_plugin import ClusterHandle, _handle
from playbook import Ansible
from sim import testing as st
from support import FAST, REPO

POLICY = {"sandboxed_containers_policy": {"modes": ["namespaces"]}}


@pytest.fixture(scope="module")
def release_4_16(tmp_path_factory) -> Iterator[ClusterHandle]:
    lc = LocalCluster(tmp_path_factory.mktemp("ocp416") / "cluster")
    lc.up(Settings(openshift_version="4.16", workers=3, render_delay=FAST["render_delay"],
                   node_update=FAST["node_update"]), quiet=True)
    try:
        yield _handle(lc)
    finally:
        lc.down()


@pytest.fixture(scope="module")
def ansible_4_16(release_4_16, tmp_path_factory) -> Ansible:
    return Ansible(release_4_16, tmp_path_factory.mktemp("ansible-416"))


def writes(log: Path, start: int, user: str = "admin") -> list[tuple[str, str, str]]:
    """(verb, resource, name) of the user's successful writes that are not dry runs, from the audit log."""
    out = []
    for line in log.read_text().splitlines()[start:]:
        e = json.loads(line)
        ref = e.get("objectRef") or {}
        if (e["user"]["username"] == user and e["stage"] == "ResponseComplete"
                and e["verb"] in ("create", "patch", "update", "delete", "deletecollection")
                and "dryRun" not in e["requestURI"] and (e.get("responseStatus") or {}).get("code", 0) < 300):
            out.append((e["verb"], ref.get("resource", ""), ref.get("name", "")))
    return out


def test_4_16_serves_no_admission_policy_and_reports_its_release(release_4_16):
    api = release_4_16.api()
    groups = st.kube(api).get("/apis/admissionregistration.k8s.io/v1")
    assert "validatingadmissionpolicies" not in {r["name"] for r in groups["resources"]}
    cv = st.kube(api).get("/apis/config.openshift.io/v1/clusterversions/version")
    assert cv["status"]["desired"]["version"].startswith("4.16.")


def test_install_status_upgrade_uninstall_on_4_16_without_a_policy(release_4_16, ansible_4_16):
    api = release_4_16.api()
    r = ansible_4_16.run("install")
    assert r.rc == 0, r
    assert "OpenShift 4.16" in r.text
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0, "worker-0": 1, "worker-1": 1,
                               "worker-2": 1}
    assert client.NodeV1Api(api).read_runtime_class("kata").handler == "kata"
    r = ansible_4_16.run("status")
    assert r.rc == 0 and r.report["installed"] is True, r
    r = ansible_4_16.run("upgrade", extra_vars={"sandboxed_containers_overhead": {"cpu": "300m", "memory": "400Mi"}})
    assert r.rc == 0, r
    r = ansible_4_16.run("uninstall")
    assert r.rc == 0, r
    assert st.reboots(api)["worker-0"] == 2
    assert client.NodeV1Api(api).list_runtime_class().items == []


def test_a_policy_on_4_16_is_refused_before_any_change_naming_4_17(release_4_16, ansible_4_16):
    api = release_4_16.api()
    log = release_4_16.local.logs / "audit.log"
    before = snapshot_without_admission(api)
    start = len(log.read_text().splitlines())
    r = ansible_4_16.run("install", extra_vars=POLICY)
    assert r.rc != 0, r
    assert "which OpenShift serves from 4.17 (Kubernetes 1.30); this cluster runs OpenShift 4.16" in r.text, r
    assert "Nothing was changed" in r.text
    assert writes(log, start) == []
    assert snapshot_without_admission(api) == before


def snapshot_without_admission(api) -> dict:
    """The support snapshot lists the admission policies, which 4.16 does not serve."""
    from kubernetes.dynamic import DynamicClient

    dyn = DynamicClient(api)
    out = {}
    for api_version, kind in (("machineconfiguration.openshift.io/v1", "MachineConfig"),
                              ("machineconfiguration.openshift.io/v1", "MachineConfigPool"),
                              ("v1", "Node"), ("node.k8s.io/v1", "RuntimeClass")):
        out[kind] = sorted((o.to_dict()["metadata"]["name"], o.to_dict()["metadata"].get("labels") or {},
                            o.to_dict().get("spec") if kind != "Node" else None)
                           for o in dyn.resources.get(api_version=api_version, kind=kind).get().items)
    return out


def test_make_demo_on_4_14(tmp_path):
    """`CLUSTER_OPENSHIFT_VERSION=4.14 make demo` on a fresh cluster directory, then make cluster-down."""
    cdir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_", "SANDBOXED_"))}
    env.update(CLUSTER_OPENSHIFT_VERSION="4.14", SIM_RENDER_DELAY_SECONDS="1", SIM_NODE_UPDATE_SECONDS="0.4",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    try:
        proc = subprocess.run(["make", "--no-print-directory", "demo", f"CLUSTER_DIR={cdir}"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-4000:]
        assert "OpenShift 4.14" in out
        assert "3 nodes installed" in " ".join(out.split())
        lc = LocalCluster(cdir)
        from kubernetes import config

        api = config.new_client_from_config(config_file=str(lc.kubeconfig))
        resources = st.kube(api).get("/apis/admissionregistration.k8s.io/v1")["resources"]
        assert "validatingadmissionpolicies" not in {r["name"] for r in resources}
    finally:
        subprocess.run(["make", "--no-print-directory", "cluster-down", f"CLUSTER_DIR={cdir}"], cwd=REPO, env=env,
                       capture_output=True, timeout=120, check=False)
