"""The machine-config daemon's decisions: what changed, reboot or not, drain or not. Pure.

pkg/daemon/update.go: newMachineConfigDiff, calculatePostConfigChangeAction
and calculatePostConfigChangeActionFromMCDiffs; pkg/daemon/drain.go
drainRequired (mco.md 5.2).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from . import ignition, releases, render

ACTION_NONE = "none"
ACTION_RELOAD_CRIO = "reload crio"
ACTION_RESTART_CRIO = "restart crio"
ACTION_REBOOT = "reboot"

# Paths whose change needs no reboot (mco.md 5.2; pkg/daemon/update.go
# calculatePostConfigChangeActionFromFileDiffs on 4.14/4.15, ...FromMCDiffs on 4.16, the
# NodeDisruptionPolicy defaults of pkg/apihelpers/apihelpers.go from 4.17).
FILES_NONE = ("/etc/kubernetes/kubelet-ca.crt", "/var/lib/kubelet/config.json")
FILES_NONE_415 = ("/etc/mco/internal-registry-pull-secret.json",)  # dropped from the list in 4.16
DIRS_NONE = ("/etc/nmstate/openshift",)  # 4.16+
FILES_RELOAD_CRIO = ("/etc/containers/registries.conf",
                     "/etc/machine-config-daemon/no-reboot/containers-gpg.pub",
                     "/etc/containers/policy.json")
DIRS_RELOAD_CRIO = ("/etc/containers/registries.d",)  # 4.16+
DIRS_RELOAD_CRIO_418 = ("/etc/crio/policies",)  # CrioPoliciesDir, 4.18+
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


def _in_dirs(path: str, dirs: tuple[str, ...], nested: bool) -> bool:
    """4.16 compares the parent directory; 4.17+ takes the closest policy directory above the path
    (FindClosestFilePolicyPathMatch)."""
    if not nested:
        return posixpath.dirname(path) in dirs
    return any(path.startswith(d + "/") for d in dirs)


def actions_for_files(paths: list[str], release: releases.Release | None = None) -> list[str]:
    """calculatePostConfigChangeActionFromMCDiffs (4.16), ...FromFileDiffs (4.14/4.15), and the
    default node disruption policies (4.17+), for files."""
    rel = release or releases.release(None)
    none_files = FILES_NONE + (FILES_NONE_415 if rel.minor <= 15 else ())
    none_dirs = DIRS_NONE if rel.minor >= 16 else ()
    reload_dirs = (DIRS_RELOAD_CRIO if rel.minor >= 16 else ()) + (DIRS_RELOAD_CRIO_418 if rel.minor >= 18 else ())
    nested = rel.node_disruption_policy
    actions = [ACTION_NONE]
    for p in paths:
        if p in none_files or _in_dirs(p, none_dirs, nested):
            continue
        if p in FILES_RELOAD_CRIO or _in_dirs(p, reload_dirs, nested):
            if ACTION_RESTART_CRIO not in actions:
                actions = [ACTION_RELOAD_CRIO]
            continue
        if p in FILES_RESTART_CRIO:
            actions = [ACTION_RESTART_CRIO]
            continue
        return [ACTION_REBOOT]
    return actions


def post_config_actions(d: Diff, release: releases.Release | None = None) -> list[str]:
    """calculatePostConfigChangeAction (without the force file)."""
    if d.os_update or d.kargs or d.fips or d.units or d.kernel_type or d.extensions:
        return [ACTION_REBOOT]
    return actions_for_files(d.changed_files, release)


def needs_reboot(old_mc: dict | None, new_mc: dict, release: releases.Release | None = None) -> bool:
    return ACTION_REBOOT in post_config_actions(diff(old_mc, new_mc), release)


def drain_required(actions: list[str], control_plane_topology: str) -> bool:
    """A reboot drains the node, except on a single-node cluster (drain.go drainRequired)."""
    return ACTION_REBOOT in actions and control_plane_topology != "SingleReplica"


# -- extensions: what rpm-ostree layers (pkg/daemon/update.go applyExtensions) --------------

def is_el(os_name: str) -> bool:
    """osrelease IsEL(): RHCOS and SCOS (ID rhcos / scos); FCOS (ID fedora) is not."""
    return os_name in ("rhcos", "scos")


def layered_packages(extensions: list[str], os_name: str, release: releases.Release) -> list[str]:
    """The RPMs the daemon asks rpm-ostree for, for a config's extensions, in its order.

    EL: through the allow-list (sandboxed-containers -> kata-containers); FCOS up
    to 4.19: the names themselves (generateExtensionsArgs' IsFCOS branch); FCOS
    4.20+: nothing (applyExtensions returns at once on non-EL nodes).
    """
    out: list[str] = []
    if is_el(os_name):
        table = release.supported_extensions
        for ext in extensions:
            out.extend(p for p in table.get(ext, ()) if p not in out)
    elif release.fcos_extensions == "packages":
        out.extend(e for e in extensions if e not in out)
    if release.sorted_extension_args:
        out.sort()
    return out


# Package names that are RPMs of Fedora (FCOS takes extension names as package names).
FEDORA_PACKAGES = frozenset(p for r in releases.RELEASES.values() for ps in r.supported_extensions.values()
                            for p in ps)


def package_available(pkg: str, os_name: str, arch: str) -> bool:
    """Whether the OS's extensions repository has `pkg` for the node's architecture."""
    if os_name == "fcos" and pkg not in FEDORA_PACKAGES:
        return False
    arches = releases.REPO_ARCHES.get(os_name, {}).get(pkg)
    return arches is None or releases.RPM_ARCH.get(arch, arch) in arches


def installed_packages(extensions: list[str], os_name: str, arch: str, release: releases.Release) -> set[str]:
    """What is layered on a node that booted a config with these extensions."""
    return {p for p in layered_packages(extensions, os_name, release) if package_available(p, os_name, arch)}


def apply_extensions_error(old_exts: list[str], new_exts: list[str], os_name: str, arch: str,
                           release: releases.Release, allowed: tuple[str, ...]) -> str | None:
    """The error applyExtensions returns for this change on this node, or None.

    Validation against the allow-list counts only on EL (4.14 update.go:1138;
    4.21:1682-1700). rpm-ostree refuses a package the enabled repositories lack
    with "Packages not found: a, b" (coreos/rpm-ostree src/libpriv/rpmostree-core.cxx
    throw_package_list; the CLI prints "error: " before it, rust/src/main.rs
    print_error), which runCmdSync wraps as "error running rpm-ostree ARGS: STDERR:
    exit status 1" (update.go runCmdSync).
    """
    if (not old_exts and not new_exts) or old_exts == new_exts:
        return None
    if not is_el(os_name) and release.fcos_extensions == "none":
        return None
    if is_el(os_name):
        invalid = [e for e in new_exts if e not in allowed]
        if invalid:
            return f"invalid extensions found: {render.go_list(invalid)}"
    new_pkgs = layered_packages(new_exts, os_name, release)
    old_pkgs = layered_packages(old_exts, os_name, release)
    if release.sorted_extension_args:
        install = sorted(set(new_pkgs) - set(old_pkgs))
        remove = sorted(set(old_pkgs) - set(new_pkgs))
    else:  # by extension added or removed (map iteration order in Go; kept in list order here)
        added = [e for e in dict.fromkeys(new_exts) if e not in old_exts]
        removed = [e for e in dict.fromkeys(old_exts) if e not in new_exts]
        install = layered_packages(added, os_name, release)
        remove = layered_packages(removed, os_name, release)
    args = ["update"] + [x for p in install for x in ("--install", p)] + [x for p in remove for x in ("--uninstall", p)]
    missing = [p for p in install if not package_available(p, os_name, arch)]
    if missing:
        return (f"error running rpm-ostree {' '.join(args)}: error: Packages not found: {', '.join(missing)}\n"
                ": exit status 1")
    return None
