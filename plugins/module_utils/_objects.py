# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The objects the collection owns, built as plain dicts, and whether an object is one of them (no I/O).

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import copy

from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import IGNITION_VERSION, data_url
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    ADOPT_SETTING,
    CRIO_DROPIN_PATH,
    EXTENSION,
    HANDLER_LABEL,
    MACHINE_CONFIG_NAME,
    MANAGED_BY,
    MANAGED_BY_TEXT,
    MC_API,
    POOL_LABEL_PREFIX,
    ROLE_LABEL,
    RUNTIME_CLASS_API,
    VERSION_ANNOTATION,
    node_role_label,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION

DROPIN_MODE = 0o644


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
        "apiVersion": RUNTIME_CLASS_API,
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
