"""What the local cluster holds at start: the OpenShift APIs as OpenShift ships them.

The CRDs, the default pools and the MCO's custom-pool admission policy are
installed unchanged from the upstream copies in the shared openshift/ folder
(see its README for their commits); the Scheduler and MachineOSConfig CRDs
come from the openshift/api Go module (openshift_api.py); the SCCs and their
admission are emulated (scc.py). What a release lacks is left out (the
release table is sim/releases.py). Every step is idempotent, so it runs on
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

from . import acm_api, manifests, openshift_api, scc
from .cluster import REPO, ClusterError, release

FIELD_MANAGER = "local-cluster-bootstrap"
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


def install_acm_crds(api: client.ApiClient) -> None:
    """Makes the ACM Policy, PlacementBinding and ConfigurationPolicy APIs available (acm_api.py)."""
    install_crds(DynamicClient(api), acm_api.crd_files())


def _cluster_version(dyn: DynamicClient, minor: str, version: str) -> None:
    """The ClusterVersion `version` of a cluster installed at `version` (e.g. 4.16.0), channel stable-<minor>."""
    res = dyn.resources.get(api_version="config.openshift.io/v1", kind="ClusterVersion")
    try:
        cv = res.get(name="version").to_dict()
    except NotFoundError:
        cv = res.create(body={
            "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
            "metadata": {"name": "version"},
            "spec": {"clusterID": str(uuid.uuid4()), "channel": f"stable-{minor}"},
        }).to_dict()
    if (cv.get("status") or {}).get("desired", {}).get("version") == version:
        return
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    image = f"registry.invalid/openshift-release-dev/ocp-release:{version}-x86_64"
    cv["status"] = {
        "availableUpdates": None,
        "desired": {"image": image, "version": version, "channels": [f"stable-{minor}"]},
        "history": [{
            "completionTime": now, "image": image, "startedTime": now,
            "state": "Completed", "verified": False, "version": version,
        }],
        "observedGeneration": cv["metadata"].get("generation", 1),
        "versionHash": "local",
        "conditions": [{
            "type": "Available", "status": "True", "lastTransitionTime": now,
            "message": f"Done applying {version}",
        }],
    }
    res.status.replace(body=cv)


def bootstrap(cluster: LocalCluster, settings: Settings, say: Callable[[str], None], *, seed: bool) -> None:
    """Installs the OpenShift APIs and objects of the settings' release; with `seed`, also the nodes."""
    rel = release(settings.openshift_version)
    osdir = openshift_dir()
    extra = openshift_api.crd_files()
    api = api_client(cluster.kubeconfig)
    try:
        dyn = DynamicClient(api)
        # The SCC admission first, so that the namespaces created below get their UID range.
        for obj in scc.objects():
            apply(dyn, obj)
        crds = sorted(p for p in (osdir / "crds").glob("*.yaml") if p.name != KATACONFIG_CRD)
        crds.append(extra["scheduler"])  # the simulator's seed creates the Scheduler `cluster`
        if rel.machine_os_config_v1:
            crds.append(extra["machineosconfig"])
        install_crds(dyn, crds)
        dyn = DynamicClient(api)  # fresh discovery now that the CRDs are served
        _wait_scc_admission(dyn)
        for ns in NAMESPACES:
            apply(dyn, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for obj in scc.security_context_constraints():
            apply(dyn, obj)
        for f in sorted((osdir / "pools").glob("*.yaml")):
            for obj in load_all(f):
                _ensure(dyn, obj)
        if rel.mco_custom_pool_vap:
            for f in sorted((osdir / "admission").glob("*.yaml")):
                for obj in load_all(f):
                    apply(dyn, obj)
            _wait_policy_enforced(dyn)
        _cluster_version(dyn, rel.version, rel.full_version)
        if seed and settings.manifests_dir:
            loaded = manifests.load(Path(settings.manifests_dir))
            say(f"creating {len(loaded)} day-0 manifests from {settings.manifests_dir}")
            manifests.create(api, loaded)
        if seed:
            try:
                from sim import topology  # the simulator package, beside this one
            except ImportError:
                return
            say(f"creating nodes: OpenShift {rel.version}, {settings.topology} topology, {settings.workers} workers")
            topology.seed(api, settings)
    finally:
        api.close()


def _wait_scc_admission(dyn: DynamicClient, timeout: float = 30.0) -> None:
    """A MutatingAdmissionPolicy acts only once its informers synced: probe it with a dry run."""
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    probe = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"scc-probe-{uuid.uuid4().hex[:8]}"}}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = namespaces.create(body=probe, query_params=[("dryRun", "All")]).to_dict()
        if scc.UID_RANGE in (got["metadata"].get("annotations") or {}):
            return
        time.sleep(0.1)
    raise ClusterError(f"the SCC admission emulation was not in effect after {timeout:.0f} s")


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
