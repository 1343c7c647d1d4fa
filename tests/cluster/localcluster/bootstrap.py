"""What the local cluster holds at start: the OpenShift APIs as OpenShift ships them.

The CRDs, the default pools and the MCO's custom-pool admission policy are
installed unchanged from the upstream copies in the shared openshift/ folder
(see its README for their commits). Every step is idempotent, so it runs on
each `cluster-up`.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

if TYPE_CHECKING:
    from .cluster import LocalCluster, Settings

from .cluster import REPO, ClusterError

FIELD_MANAGER = "local-cluster-bootstrap"
OPENSHIFT_VERSION = "4.21.0"
NAMESPACES = ("openshift-machine-config-operator", "openshift-sandboxed-containers-operator")
# The KataConfig CRD is installed on demand (see install_kataconfig_crd).
KATACONFIG_CRD = "kataconfiguration.openshift.io_kataconfigs.yaml"


def openshift_dir() -> Path:
    """The shared openshift/ folder: beside the project, or beside the repository it was cloned from."""
    env = os.environ.get("SANDBOXED_CONTAINERS_OPENSHIFT_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "openshift")
    try:
        origin = subprocess.run(
            ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
    except OSError:
        origin = ""
    if origin and not origin.startswith(("http", "git@", "ssh:")):
        candidates.append(Path(origin.removeprefix("file://")).resolve().parent / "shared" / "openshift")
    for c in candidates:
        if (c / "crds").is_dir():
            return c
    raise ClusterError(
        "cannot find the OpenShift manifests (shared/openshift/ with crds/, pools/, admission/) "
        "beside this repository; set SANDBOXED_CONTAINERS_OPENSHIFT_DIR to that folder"
    )


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def apply(dyn: DynamicClient, obj: dict) -> dict:
    """Server-side apply of one object, forcing ownership (we own the bootstrap objects)."""
    res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    return res.server_side_apply(
        body=obj, name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"),
        field_manager=FIELD_MANAGER, force_conflicts=True,
    ).to_dict()


def wait_established(dyn: DynamicClient, names: list[str], timeout: float = 30.0) -> None:
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for n in list(pending):
            conds = (crds.get(name=n).to_dict().get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conds):
                pending.discard(n)
        if pending:
            time.sleep(0.2)
    if pending:
        raise ClusterError(f"CRDs not established after {timeout:.0f} s: {', '.join(sorted(pending))}")


def install_crds(dyn: DynamicClient, files: list[Path]) -> None:
    names = []
    for f in files:
        for obj in load_all(f):
            apply(dyn, obj)
            names.append(obj["metadata"]["name"])
    wait_established(dyn, names)


def install_kataconfig_crd(api: client.ApiClient) -> None:
    """Makes the KataConfig API available (tests of "the operator manages this cluster")."""
    dyn = DynamicClient(api)
    install_crds(dyn, [openshift_dir() / "crds" / KATACONFIG_CRD])


def _cluster_version(dyn: DynamicClient) -> None:
    res = dyn.resources.get(api_version="config.openshift.io/v1", kind="ClusterVersion")
    try:
        cv = res.get(name="version").to_dict()
    except NotFoundError:
        cv = res.create(body={
            "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
            "metadata": {"name": "version"},
            "spec": {"clusterID": str(uuid.uuid4()), "channel": "stable-4.21"},
        }).to_dict()
    if (cv.get("status") or {}).get("desired", {}).get("version") == OPENSHIFT_VERSION:
        return
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    image = f"registry.invalid/openshift-release-dev/ocp-release:{OPENSHIFT_VERSION}-x86_64"
    cv["status"] = {
        "availableUpdates": None,
        "desired": {"image": image, "version": OPENSHIFT_VERSION},
        "history": [{
            "completionTime": now, "image": image, "startedTime": now,
            "state": "Completed", "verified": False, "version": OPENSHIFT_VERSION,
        }],
        "observedGeneration": cv["metadata"].get("generation", 1),
        "versionHash": "local",
        "conditions": [{
            "type": "Available", "status": "True", "lastTransitionTime": now,
            "message": f"Done applying {OPENSHIFT_VERSION}",
        }],
    }
    res.status.replace(body=cv)


def bootstrap(cluster: LocalCluster, seed: Settings | None, say: Callable[[str], None]) -> None:
    """Installs the OpenShift APIs and objects; with `seed`, also the nodes of a new cluster."""
    osdir = openshift_dir()
    api = api_client(cluster.kubeconfig)
    try:
        dyn = DynamicClient(api)
        for ns in NAMESPACES:
            apply(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        install_crds(dyn, sorted(p for p in (osdir / "crds").glob("*.yaml") if p.name != KATACONFIG_CRD))
        dyn = DynamicClient(api)  # fresh discovery now that the CRDs are served
        for f in sorted((osdir / "pools").glob("*.yaml")):
            for obj in load_all(f):
                _ensure(dyn, obj)
        for f in sorted((osdir / "admission").glob("*.yaml")):
            for obj in load_all(f):
                apply(dyn, obj)
        _wait_policy_enforced(dyn)
        _cluster_version(dyn)
        if seed is not None:
            try:
                from sim import topology  # the simulator package, beside this one
            except ImportError:
                return
            say(f"creating nodes: {seed.topology} topology, {seed.workers} workers")
            topology.seed(api, seed)
    finally:
        api.close()


def _wait_policy_enforced(dyn: DynamicClient, timeout: float = 30.0) -> None:
    """A ValidatingAdmissionPolicy acts only once its informers synced: probe it with a dry run."""
    pools = dyn.resources.get(api_version="machineconfiguration.openshift.io/v1", kind="MachineConfigPool")
    probe = {
        "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
        "metadata": {"name": "policy-probe"},
        "spec": {"machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "probe"}},
                 "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/probe": ""}}},
    }
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pools.create(body=probe, query_params=[("dryRun", "All")])
        except ApiException as e:
            if e.status == 422:
                return
            raise
        time.sleep(0.2)
    raise ClusterError(f"the custom-pool admission policy was not enforced after {timeout:.0f} s")


def _ensure(dyn: DynamicClient, obj: dict) -> None:
    """Creates an object if missing; never overwrites (the pools' spec is the render controller's)."""
    res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    try:
        res.get(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))
    except NotFoundError:
        res.create(body=obj, namespace=obj["metadata"].get("namespace"))


def wait_settled(cluster: LocalCluster) -> None:
    """Waits until the simulator has rendered every pool and seeded every node."""
    from sim import topology

    api = api_client(cluster.kubeconfig)
    try:
        topology.wait_settled(api)
    finally:
        api.close()
