# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The objects the collection owns, built as plain dicts (no I/O).

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import base64
import copy
import urllib.parse

from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION

MC_API = "machineconfiguration.openshift.io/v1"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
POOL_LABEL_PREFIX = "pools.operator.machineconfiguration.openshift.io/"
MANAGED_BY = {"app.kubernetes.io/managed-by": "sandboxed.containers"}
MANAGED_BY_TEXT = "app.kubernetes.io/managed-by=sandboxed.containers"
# The setting that lets install take over objects of the collection's names that it did not create.
ADOPT_SETTING = "sandboxed_containers_adopt"
VERSION_ANNOTATION = "sandboxed.containers/version"
FIELD_MANAGER = "sandboxed.containers"

MACHINE_CONFIG_NAME = "50-sandboxed-containers"
# The admission policies (and their bindings) the collection writes: by runtime class name, and by handler.
POLICY_NAMES = ("sandboxed-containers-runtime-class", "sandboxed-containers-runtime-class-handler")
EXTENSION = "sandboxed-containers"
# The names an extension carrying Kata has: RHCOS and SCOS (through the MCO's allow-list), Fedora CoreOS.
KATA_EXTENSIONS = ("sandboxed-containers", "kata-containers")
CRIO_DROPIN_DIR = "/etc/crio/crio.conf.d/"
# The kata-containers RPM ships /etc/crio/crio.conf.d/50-kata with the kata handler. The collection's file sorts
# after it: CRI-O reads drop-ins in lexical order and the handler table read last replaces the earlier one whole
# (BurntSushi/toml builds each map entry afresh), so the collection's settings win for its handler while the RPM's
# file is never masked on disk and RHEL's updates to it still reach the node (docs/architecture.md).
CRIO_DROPIN_PATH = CRIO_DROPIN_DIR + "51-sandboxed-containers"
RPM_DROPIN_PATH = CRIO_DROPIN_DIR + "50-kata"
# On every node whose rendered config carries our MachineConfig, with the handler as value; the RuntimeClass
# schedules onto this label, so sandboxed pods never land on a node without the handler (a schedulable
# control-plane node carries the worker role label, yet the MCO keeps it in the master pool).
HANDLER_LABEL = "sandboxed.containers/handler"
IGNITION_VERSION = "3.2.0"
DROPIN_MODE = 0o644

CURRENT_CONFIG = "machineconfiguration.openshift.io/currentConfig"
DESIRED_CONFIG = "machineconfiguration.openshift.io/desiredConfig"
MCD_STATE = "machineconfiguration.openshift.io/state"
MCD_REASON = "machineconfiguration.openshift.io/reason"


def is_managed(obj: dict | None) -> bool:
    """Whether an object carries the collection's label, i.e. the collection created (or adopted) it."""
    return obj is not None and ((obj.get("metadata") or {}).get("labels") or {}).items() >= MANAGED_BY.items()


# How refusals and warnings say that an object of the collection's name is someone else's.
NOT_CREATED = f"was not created by sandboxed.containers (it has no label {MANAGED_BY_TEXT})"


def refuse_foreign(kind: str, name: str) -> str:
    """Why a module does not take over an object it did not create, and what to do."""
    return (f"{kind} {name} exists and {NOT_CREATED}; the collection does not take it over. Delete it, choose "
            f"another name, or set adopt (the roles' {ADOPT_SETTING}: true) to make it the collection's own; "
            "nothing was changed")


def leave_foreign(kind: str, name: str) -> str:
    """Why a removal leaves an object of the collection's name alone."""
    return f"{kind} {name} {NOT_CREATED}: left alone"


def node_role_label(pool: str) -> str:
    return NODE_ROLE_PREFIX + pool


def data_url(content: str) -> str:
    """An Ignition data URL for a file's contents."""
    return "data:text/plain;charset=utf-8;base64," + base64.b64encode(content.encode()).decode()


def decode_data_url(url: str) -> str:
    """The contents of a data URL (base64 or percent-encoded), as Ignition reads it."""
    if not url.startswith("data:"):
        raise ValueError(f"not a data URL: {url[:40]!r}")
    header, _comma, payload = url[5:].partition(",")
    if header.endswith(";base64"):
        return base64.b64decode(payload).decode()
    return urllib.parse.unquote(payload)


def machine_config(role: str, crio_dropin: str, *, name: str = MACHINE_CONFIG_NAME,
                   extensions: list[str] | None = None, version: str = COLLECTION_VERSION) -> dict:
    """The one MachineConfig: the RHCOS extension and the CRI-O drop-in, for pools selecting `role`."""
    return {
        "apiVersion": MC_API,
        "kind": "MachineConfig",
        "metadata": {
            "name": name,
            "labels": {ROLE_LABEL: role, **MANAGED_BY},
            "annotations": {VERSION_ANNOTATION: version},
        },
        "spec": {
            "extensions": list(extensions if extensions is not None else [EXTENSION]),
            "config": {
                "ignition": {"version": IGNITION_VERSION},
                "storage": {"files": [{
                    "path": CRIO_DROPIN_PATH,
                    "mode": DROPIN_MODE,
                    "overwrite": True,
                    "contents": {"source": data_url(crio_dropin)},
                }]},
            },
        },
    }


def custom_pool(name: str, *, max_unavailable: int | str | None = None,
                version: str = COLLECTION_VERSION) -> dict:
    """A custom pool that inherits the worker MachineConfigs, as the MCO's admission policy requires."""
    spec: dict = {
        "machineConfigSelector": {"matchExpressions": [
            {"key": ROLE_LABEL, "operator": "In", "values": ["worker", name]},
        ]},
        "nodeSelector": {"matchLabels": {node_role_label(name): ""}},
    }
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {
        "apiVersion": MC_API,
        "kind": "MachineConfigPool",
        "metadata": {
            "name": name,
            "labels": {POOL_LABEL_PREFIX + name: "", **MANAGED_BY},
            "annotations": {VERSION_ANNOTATION: version},
        },
        "spec": spec,
    }


def runtime_class(name: str, handler: str, overhead: dict[str, str], *,
                  tolerations: list[dict] | None = None, version: str = COLLECTION_VERSION) -> dict:
    """The RuntimeClass: pod overhead, and scheduling onto the nodes that have the handler only."""
    scheduling: dict = {"nodeSelector": {HANDLER_LABEL: handler}}
    if tolerations:
        scheduling["tolerations"] = copy.deepcopy(tolerations)
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {
            "name": name,
            "labels": dict(MANAGED_BY),
            "annotations": {VERSION_ANNOTATION: version},
        },
        "handler": handler,
        "overhead": {"podFixed": dict(overhead)},
        "scheduling": scheduling,
    }


def files_of(mc_spec: dict) -> dict[str, str]:
    """path -> decoded contents of every file in a MachineConfig spec."""
    out = {}
    for f in ((mc_spec.get("config") or {}).get("storage") or {}).get("files") or []:
        src = (f.get("contents") or {}).get("source")
        try:
            out[f["path"]] = decode_data_url(src) if src else ""
        except (ValueError, UnicodeDecodeError):
            out[f["path"]] = src
    return out


def rendered_carries(rendered_spec: dict, ours: dict) -> bool:
    """Whether a rendered config includes the content of our MachineConfig spec (files and extensions)."""
    have = files_of(rendered_spec)
    for path, content in files_of(ours).items():
        if have.get(path) != content:
            return False
    return all(e in (rendered_spec.get("extensions") or []) for e in ours.get("extensions") or [])


def rendered_lacks(rendered_spec: dict, ours: dict) -> bool:
    """Whether a rendered config is free of our files and extensions (after an uninstall)."""
    have = files_of(rendered_spec)
    if any(path in have for path in files_of(ours)):
        return False
    return not any(e in (rendered_spec.get("extensions") or []) for e in ours.get("extensions") or [])
