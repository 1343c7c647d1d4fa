"""The machine-config daemon's decisions: what changed, reboot or not, drain or not. Pure.

pkg/daemon/update.go: newMachineConfigDiff, calculatePostConfigChangeAction
and calculatePostConfigChangeActionFromMCDiffs; pkg/daemon/drain.go
drainRequired (mco.md 5.2).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from . import ignition, render

ACTION_NONE = "none"
ACTION_RELOAD_CRIO = "reload crio"
ACTION_RESTART_CRIO = "restart crio"
ACTION_REBOOT = "reboot"

# Paths whose change needs no reboot (mco.md 5.2; pkg/daemon constants).
FILES_NONE = ("/etc/kubernetes/kubelet-ca.crt", "/var/lib/kubelet/config.json")
DIRS_NONE = ("/etc/nmstate/openshift",)
FILES_RELOAD_CRIO = ("/etc/containers/registries.conf",
                     "/etc/machine-config-daemon/no-reboot/containers-gpg.pub",
                     "/etc/containers/policy.json")
DIRS_RELOAD_CRIO = ("/etc/containers/registries.d",)
FILES_RESTART_CRIO = ("/etc/pki/ca-trust/source/anchors/openshift-config-user-ca-bundle.crt",)


def canonical_kernel_type(kt: str | None) -> str:
    return kt if kt in ("realtime", "64k-pages") else "default"


@dataclass
class Diff:
    os_update: bool = False
    kargs: bool = False
    fips: bool = False
    passwd: bool = False
    files: bool = False
    units: bool = False
    kernel_type: bool = False
    extensions: bool = False
    changed_files: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.os_update or self.kargs or self.fips or self.passwd or self.files or self.units
                    or self.kernel_type or self.extensions)

    def os_changes(self) -> str:
        """osChangesString: the reason of the OSUpdateStarted event."""
        parts = []
        if self.os_update:
            parts.append("Upgrading OS")
        if self.extensions:
            parts.append("Installing extensions")
        if self.kernel_type:
            parts.append("Changing kernel type")
        if self.kargs:
            parts.append("Changing kernel arguments")
        return "; ".join(parts)


def _file_map(cfg: dict) -> dict[str, dict]:
    return {f.get("path"): ignition.canonical(f) for f in (cfg.get("storage") or {}).get("files") or []}


def changed_files(old_cfg: dict, new_cfg: dict) -> list[str]:
    """CalculateConfigFileDiffs: removed, added and changed paths."""
    old, new = _file_map(old_cfg), _file_map(new_cfg)
    out = [p for p in old if p not in new]
    out += [p for p, f in new.items() if p not in old or old[p] != f]
    return out


def diff(old_mc: dict | None, new_mc: dict) -> Diff:
    """newMachineConfigDiff between two rendered configs (None: the empty config)."""
    old_spec = (old_mc or {}).get("spec") or {}
    new_spec = new_mc.get("spec") or {}
    old_cfg = render.rendered_config(old_mc)
    new_cfg = render.rendered_config(new_mc)
    c = ignition.canonical
    old_k, new_k = old_spec.get("kernelArguments") or [], new_spec.get("kernelArguments") or []
    old_e, new_e = old_spec.get("extensions") or [], new_spec.get("extensions") or []
    files = changed_files(old_cfg, new_cfg)
    return Diff(
        os_update=old_spec.get("osImageURL", "") != new_spec.get("osImageURL", ""),
        kargs=not ((not old_k and not new_k) or old_k == new_k),
        fips=bool(old_spec.get("fips")) != bool(new_spec.get("fips")),
        passwd=c(old_cfg.get("passwd")) != c(new_cfg.get("passwd")),
        files=bool(files),
        units=c((old_cfg.get("systemd") or {}).get("units")) != c((new_cfg.get("systemd") or {}).get("units")),
        kernel_type=canonical_kernel_type(old_spec.get("kernelType")) != canonical_kernel_type(
            new_spec.get("kernelType")),
        extensions=not ((not old_e and not new_e) or old_e == new_e),
        changed_files=files,
    )


def actions_for_files(paths: list[str]) -> list[str]:
    """calculatePostConfigChangeActionFromMCDiffs."""
    actions = [ACTION_NONE]
    for p in paths:
        if p in FILES_NONE or posixpath.dirname(p) in DIRS_NONE:
            continue
        if p in FILES_RELOAD_CRIO or posixpath.dirname(p) in DIRS_RELOAD_CRIO:
            if ACTION_RESTART_CRIO not in actions:
                actions = [ACTION_RELOAD_CRIO]
            continue
        if p in FILES_RESTART_CRIO:
            actions = [ACTION_RESTART_CRIO]
            continue
        return [ACTION_REBOOT]
    return actions


def post_config_actions(d: Diff) -> list[str]:
    """calculatePostConfigChangeAction (without the force file)."""
    if d.os_update or d.kargs or d.fips or d.units or d.kernel_type or d.extensions:
        return [ACTION_REBOOT]
    return actions_for_files(d.changed_files)


def needs_reboot(old_mc: dict | None, new_mc: dict) -> bool:
    return ACTION_REBOOT in post_config_actions(diff(old_mc, new_mc))


def drain_required(actions: list[str], control_plane_topology: str) -> bool:
    """A reboot drains the node, except on a single-node cluster (drain.go drainRequired)."""
    return ACTION_REBOOT in actions and control_plane_topology != "SingleReplica"
