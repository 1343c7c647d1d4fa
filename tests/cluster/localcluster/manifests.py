"""CLUSTER_MANIFESTS_DIR: day-0 manifests, as openshift-install's openshift/ directory holds them.

A fresh cluster creates them after the OpenShift APIs, pools and namespaces and
before any node exists, through the simulator's day-0 code (sim/manifests.py,
the same as sim.testing.reset(manifests=...)): the nodes then boot straight
into rendered configs that include their MachineConfigs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .cluster import ClusterError

SUFFIXES = (".yaml", ".yml", ".json")


def files(directory: Path) -> list[Path]:
    """The manifest files of `directory`, in name order (the installer's order)."""
    if not directory.is_dir():
        raise ClusterError(f"CLUSTER_MANIFESTS_DIR={directory}: no such directory")
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in SUFFIXES)


def parse(path: Path) -> list[dict]:
    """The objects of one file (multi-document YAML, or JSON); ClusterError naming the file."""
    try:
        text = path.read_text()
        docs: list[Any] = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as e:
        raise ClusterError(f"{path}: cannot be parsed: {' '.join(str(e).split())}") from None
    out = []
    for i, doc in enumerate(docs, 1):
        if doc is None:
            continue
        where = f"{path}" + (f" (document {i})" if len(docs) > 1 else "")
        if not isinstance(doc, dict):
            raise ClusterError(f"{where}: not a Kubernetes object")
        meta = doc.get("metadata")
        missing = [f for f, v in (("apiVersion", doc.get("apiVersion")), ("kind", doc.get("kind")),
                                  ("metadata.name", meta.get("name") if isinstance(meta, dict) else None)) if not v]
        if missing:
            raise ClusterError(f"{where}: the object lacks {', '.join(missing)}")
        out.append(doc)
    return out


def load(directory: Path) -> list[tuple[Path, dict]]:
    """Every object of the directory with its file, in creation order."""
    return [(f, obj) for f in files(directory) for obj in parse(f)]


def create(api: Any, loaded: list[tuple[Path, dict]]) -> None:
    """Creates the objects as cluster-bootstrap does; ClusterError naming the file of one refused."""
    from sim import manifests as sim_manifests  # the simulator package, beside this one
    from sim.kube import ApiError, Kube

    k = Kube(api)
    mapper = sim_manifests.Mapper(k)
    for path, obj in loaded:
        try:
            sim_manifests.create(k, obj, mapper)
        except sim_manifests.ManifestError as e:
            raise ClusterError(f"{path}: {e}") from None
        except ApiError as e:
            raise ClusterError(f"{path}: {sim_manifests.describe(obj)} was refused by the API server: "
                               f"{e.message or e.reason or e.status}") from None
