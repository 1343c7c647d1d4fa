# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What a pool's rendered config will carry, merged as the MCO merges it, and whether a node reboots; whether a
rendered config carries our MachineConfig's content.

The plan must predict the MCO exactly, order included: the render controller
merges worker-role MachineConfigs first and the rest after, each sorted by
name, and concatenates their extensions in that order
(machine-config-operator pkg/controller/common/helpers.go MergeMachineConfigs,
release-4.15 to main, commit 2750c2f20); the daemon compares extension lists with
reflect.DeepEqual, so [sandboxed-containers, ipsec] -> [ipsec, sandboxed-containers]
reboots the node (pkg/daemon/update.go newMachineConfigDiff and
calculatePostConfigChangeAction). Moving our MachineConfig between the worker
role and a custom role reorders the list wherever another worker
MachineConfig carries extensions (the network operator's
80-ipsec-worker-extensions, or a user's own).

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field

from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import files_of
from ansible_collections.sandboxed.containers.plugins.module_utils._names import role_of
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import matches

GENERATED_BY = "machineconfiguration.openshift.io/generated-by-controller-version"

# Files whose change needs no reboot, or only a CRI-O reload or restart (pkg/daemon/update.go
# calculatePostConfigChangeActionFromMCDiffs, release-4.14; the node disruption policy defaults of 4.17 and
# later give the same outcome for these paths, pkg/apihelpers/apihelpers.go). Every other file reboots.
NO_REBOOT_FILES = frozenset({
    "/etc/kubernetes/kubelet-ca.crt", "/var/lib/kubelet/config.json",
    "/etc/containers/registries.conf", "/etc/containers/policy.json",
    "/etc/machine-config-daemon/no-reboot/containers-gpg.pub",
    "/etc/pki/ca-trust/source/anchors/openshift-config-user-ca-bundle.crt",
})
NO_REBOOT_DIRS = ("/etc/nmstate/openshift", "/etc/containers/registries.d")


@dataclass
class Content:
    """The parts of a rendered config that decide a reboot."""

    extensions: list[str] = field(default_factory=list)
    kernel_arguments: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path -> the file entry, canonical JSON
    units: dict[str, str] = field(default_factory=dict)  # name -> the unit entry, canonical JSON
    kernel_type: str = "default"
    fips: bool = False
    os_image: str = ""
    sources: list[str] = field(default_factory=list)  # MachineConfig names in merge order


def selects(pool: dict, mc: dict) -> bool:
    """Whether the pool's machineConfigSelector selects the MachineConfig (by its labels)."""
    sel = (pool.get("spec") or {}).get("machineConfigSelector")
    return bool(sel) and matches(sel, (mc.get("metadata") or {}).get("labels") or {})


def merge_order(configs: list[dict], worker_first: bool = True) -> list[dict]:
    """Worker-role MachineConfigs first, then the others, each sorted by name (MergeMachineConfigs, 4.15 and
    later); on 4.14 every MachineConfig sorted by name."""
    def name(mc: dict) -> str:
        return mc["metadata"]["name"]
    if not worker_first:
        return sorted(configs, key=name)
    workers = sorted((mc for mc in configs if role_of(mc) == "worker"), key=name)
    others = sorted((mc for mc in configs if role_of(mc) != "worker"), key=name)
    return workers + others


def _canonical(entry: dict) -> str:
    e = dict(entry)
    e.setdefault("overwrite", True)  # the MCO defaults overwrite to true after the merge
    return json.dumps(e, sort_keys=True, separators=(",", ":"))


def render(pool: dict, machine_configs: list[dict], *, worker_first: bool = True) -> Content:
    """The content the MCO renders for `pool` from every (non-rendered) MachineConfig it selects."""
    out = Content()
    kernel_type = ""
    for mc in merge_order([mc for mc in machine_configs if selects(pool, mc)], worker_first):
        spec = mc.get("spec") or {}
        out.sources.append(mc["metadata"]["name"])
        out.extensions.extend(spec.get("extensions") or [])
        out.kernel_arguments.extend(spec.get("kernelArguments") or [])
        out.fips = out.fips or bool(spec.get("fips"))
        if spec.get("kernelType") in ("realtime", "64k-pages"):
            kernel_type = spec["kernelType"]
        if spec.get("osImageURL") and not ((mc["metadata"].get("annotations") or {}).get(GENERATED_BY)):
            out.os_image = spec["osImageURL"]
        cfg = spec.get("config") or {}
        for f in (cfg.get("storage") or {}).get("files") or []:
            if f.get("path"):
                out.files[f["path"]] = _canonical(f)
        for u in (cfg.get("systemd") or {}).get("units") or []:
            if u.get("name"):
                out.units[u["name"]] = _canonical(u)
    out.kernel_type = kernel_type or "default"
    return out


def _file_needs_reboot(path: str) -> bool:
    return path not in NO_REBOOT_FILES and posixpath.dirname(path) not in NO_REBOOT_DIRS


def reboots(before: Content | None, after: Content | None) -> bool:
    """Whether a node going from `before` to `after` reboots (None: the node is in no pool)."""
    if before is None or after is None:
        return False  # a node in no pool is not updated by the MCO at all
    if before.extensions != after.extensions and (before.extensions or after.extensions):
        return True
    if before.kernel_arguments != after.kernel_arguments and (before.kernel_arguments or after.kernel_arguments):
        return True
    if (before.kernel_type, before.fips, before.os_image, before.units) != (
            after.kernel_type, after.fips, after.os_image, after.units):
        return True
    changed = {p for p in set(before.files) | set(after.files) if before.files.get(p) != after.files.get(p)}
    return any(_file_needs_reboot(p) for p in changed)


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
