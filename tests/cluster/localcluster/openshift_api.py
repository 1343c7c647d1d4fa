"""CRDs taken from the github.com/openshift/api Go module at a pinned version.

The shared openshift/ folder holds the CRDs the collection touches; the few
more a release-specific cluster needs (Scheduler, MachineOSConfig) come from
the module itself, downloaded once through the Go module proxy and cached
under the cache root (SANDBOXED_CONTAINERS_CACHE), keyed by the version, so
later starts read the cache and need no network.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .cluster import ClusterError

MODULE = "github.com/openshift/api"
# The head of openshift/api release-4.21 (1cb630ce7109, 2026-07-10). The proxy
# serves canonical pseudo-versions of branch heads, not branch names.
VERSION = "v0.0.0-20260710095909-1cb630ce7109"

# name -> candidate paths inside the module, first one present wins: the
# Scheduler CRD is "-SelfManagedHA-Default" on release-4.21, "-Default" on 4.20.
FILES: dict[str, tuple[str, ...]] = {
    "scheduler": (
        "config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_schedulers-SelfManagedHA-Default.crd.yaml",
        "config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_schedulers-Default.crd.yaml",
    ),
    "machineosconfig": (
        "machineconfiguration/v1/zz_generated.crd-manifests/0000_80_machine-config_01_machineosconfigs.crd.yaml",
    ),
}


def cache_root() -> Path:
    """The same root build.sh uses."""
    env = os.environ.get("SANDBOXED_CONTAINERS_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "sandboxed-containers"


def cache_dir(version: str = VERSION) -> Path:
    return cache_root() / "openshift-api" / version


def crd_files(version: str = VERSION) -> dict[str, Path]:
    """The cached CRD files by name; downloads the module the first time."""
    d = cache_dir(version)
    cached = {name: d / Path(paths[0]).name for name, paths in FILES.items()}
    if all(p.is_file() for p in cached.values()):
        return cached
    module_dir = _download(version)
    d.mkdir(parents=True, exist_ok=True)
    for name, paths in FILES.items():
        src = next((module_dir / p for p in paths if (module_dir / p).is_file()), None)
        if src is None:
            raise ClusterError(f"{MODULE}@{version} has none of {', '.join(paths)}")
        copy_cached(src, cached[name])
    return cached


def _download(version: str) -> Path:
    return module_dir(MODULE, version, "the Scheduler and MachineOSConfig CRDs of the local cluster")


def module_dir(module: str, version: str, purpose: str) -> Path:
    """The directory of module@version in the Go module cache, downloaded through the proxy if missing."""
    what = f"cannot download {module}@{version} ({purpose})"
    if shutil.which("go") is None:
        raise ClusterError(f"{what}: no Go toolchain on PATH; install Go 1.24 or newer and run this again")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    # Outside any module, so no go.mod is read or changed.
    with tempfile.TemporaryDirectory(prefix="go-module-") as tmp:
        proc = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=tmp, env=env,
                              capture_output=True, text=True, check=False)
    info: dict = {}
    with contextlib.suppress(ValueError):
        info = json.loads(proc.stdout or "{}")
    reason = info.get("Error") or (proc.stderr.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or not info.get("Dir"):
        reason = " ".join((reason or f"go mod download exited {proc.returncode}").split())
        reason = reason.removeprefix(f"{module}@{version}: ")
        raise ClusterError(f"{what}: {reason}")
    return Path(info["Dir"])


def copy_cached(src: Path, dest: Path) -> None:
    """Copies a file out of the read-only module cache, atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(src, tmp)
    tmp.chmod(0o644)
    tmp.replace(dest)
