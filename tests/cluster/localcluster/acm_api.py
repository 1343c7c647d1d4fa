"""The ACM governance CRDs (Policy, PlacementBinding, ConfigurationPolicy) for tests, on demand.

Taken as they are from the open-cluster-management.io Go modules at a pinned
version, through the Go module proxy, and cached under the cache root
(SANDBOXED_CONTAINERS_CACHE) keyed by the version, as openshift_api.py does.
localcluster.bootstrap.install_acm_crds installs them; a fresh cluster has none.
"""

from __future__ import annotations

from pathlib import Path

from .cluster import ClusterError
from .openshift_api import cache_root, copy_cached, module_dir

VERSION = "v0.19.0"
# module -> CRD files inside it
FILES: dict[str, tuple[str, ...]] = {
    "open-cluster-management.io/governance-policy-propagator": (
        "deploy/crds/policy.open-cluster-management.io_policies.yaml",
        "deploy/crds/policy.open-cluster-management.io_placementbindings.yaml",
    ),
    "open-cluster-management.io/config-policy-controller": (
        "deploy/crds/policy.open-cluster-management.io_configurationpolicies.yaml",
    ),
}


def cache_dir(version: str = VERSION) -> Path:
    return cache_root() / "acm-crds" / version


def crd_files(version: str = VERSION) -> list[Path]:
    """The cached CRD files; downloads the modules the first time."""
    d = cache_dir(version)
    out = []
    for module, paths in FILES.items():
        cached = [d / Path(p).name for p in paths]
        if not all(c.is_file() for c in cached):
            src = module_dir(module, version, "the ACM policy CRDs for tests")
            for p, c in zip(paths, cached, strict=True):
                if not (src / p).is_file():
                    raise ClusterError(f"{module}@{version} has no {p}")
                copy_cached(src / p, c)
        out += cached
    return out
