"""What differs between the OpenShift releases the simulator can pretend to be. Pure.

Every value is read from the upstream branch of that release (openshift/
machine-config-operator release-4.x unless said otherwise); README.md cites
file and line for each. `release("4.16.3")` normalises to "4.16".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# SupportedExtensions(): pkg/daemon/update.go getSupportedExtensions on
# release-4.14 (1099-1113) and 4.15 (1431-), pkg/controller/common/helpers.go
# SupportedExtensions on 4.16 (635-648), 4.17 (641-653), 4.18 (661-675),
# 4.19 (727-742), 4.20 (513-) and 4.21 (524-539). Go map literal order kept.
_EXT_414: dict[str, tuple[str, ...]] = {
    "wasm": ("crun-wasm",),
    "ipsec": ("NetworkManager-libreswan", "libreswan"),
    "usbguard": ("usbguard",),
    "kerberos": ("krb5-workstation", "libkadm5"),
    "kernel-devel": ("kernel-devel", "kernel-headers"),
    "sandboxed-containers": ("kata-containers",),
}
_EXT_418 = {**_EXT_414, "sysstat": ("sysstat",)}
_EXT_419 = {"two-node-ha": ("pacemaker", "pcs", "fence-agents-all"), **_EXT_418}

ARCHES = ("amd64", "arm64", "ppc64le", "s390x")
# kubernetes.io/arch -> the RPM architecture (uname -m).
RPM_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}
OSES = ("rhcos", "scos", "fcos")
# node.openshift.io/os_id is the os-release ID (kubelet.service --node-labels ...os_id=${ID}).
OS_ID = {"rhcos": "rhcos", "scos": "scos", "fcos": "fedora"}
OS_OF_ID = {v: k for k, v in OS_ID.items()}


@dataclass(frozen=True)
class Release:
    version: str  # "4.16"
    full_version: str  # what the ClusterVersion and rendered configs say
    kubernetes: str  # minor, e.g. "1.29"
    crio: str  # CRI-O follows the Kubernetes minor
    kubelet_version: str  # nodeInfo.kubeletVersion
    crio_version: str  # nodeInfo.containerRuntimeVersion
    rhel: str  # the RHEL minor RHCOS is built from (openshift/os)
    rhcos_image: str  # nodeInfo.osImage on RHCOS
    kernel: str  # without the architecture suffix
    supported_extensions: dict[str, tuple[str, ...]] = field(hash=False, compare=False)
    extension_validation: str  # "daemon" <= 4.15, "always" 4.16/4.17, "ignition" >= 4.18
    default_runtime: str  # what the 00-default CRI-O drop-in (or CRI-O's built-in default) makes the default
    default_has_runtime_tables: bool  # 00-default carries [crio.runtime.runtimes.runc/crun] (4.15+)

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])

    # Feature flags, by first release (README cites each).
    @property
    def vap_v1(self) -> bool:  # ValidatingAdmissionPolicy GA in the Default feature set
        return self.minor >= 17

    @property
    def mco_custom_pool_vap(self) -> bool:  # manifests/machineconfigcontroller/custom-...-policy.yaml
        return self.minor >= 18

    @property
    def machine_os_config_v1(self) -> bool:
        return self.minor >= 18

    @property
    def runtime_handlers_reported(self) -> bool:
        # The kubelet's RuntimeHandlers setter (pkg/kubelet/nodestatus/setters.go) returns early unless
        # RecursiveReadOnlyMounts or UserNamespacesSupport is enabled (pkg/features/kube_features.go): both are off
        # by default in 1.30 (RRO alpha), RRO is beta and on from 1.31 (OpenShift 4.18).
        return int(self.kubernetes.split(".")[1]) >= 31

    @property
    def post_config_action(self) -> bool:  # the annotation exists from release-4.15
        return self.minor >= 15

    @property
    def worker_first_merge(self) -> bool:  # MergeMachineConfigs: worker role first from 4.15
        return self.minor >= 15

    @property
    def ipsec_extension_mcs(self) -> bool:  # the CNO's 80-ipsec-*-extensions from release-4.15
        return self.minor >= 15

    @property
    def node_disruption_policy(self) -> bool:  # the NodeDisruptionPolicy gate in Default from 4.17
        return self.minor >= 17

    @property
    def control_plane_label(self) -> bool:  # reconcileMaster adds node-role.kubernetes.io/control-plane (4.16+)
        return self.minor >= 16

    @property
    def fcos_extensions(self) -> str:
        """How the daemon treats extensions on FCOS: "packages" (names go to rpm-ostree as they are,
        up to 4.19) or "none" (applyExtensions returns at once on non-EL nodes, 4.20+)."""
        return "packages" if self.minor <= 19 else "none"

    @property
    def sorted_extension_args(self) -> bool:  # 4.20+: sets.List (sorted); before: Go map order
        return self.minor >= 20


def _rel(minor: int, kube: int, patch: int, crio_patch: int, rhel: str, image: str, kernel: str,
         ext: dict[str, tuple[str, ...]], validation: str, default_runtime: str) -> Release:
    v = f"4.{minor}"
    return Release(
        version=v, full_version=f"{v}.0", kubernetes=f"1.{kube}", crio=f"1.{kube}",
        kubelet_version=f"v1.{kube}.{patch}",
        crio_version=f"cri-o://1.{kube}.{crio_patch}-2.rhaos{v}.git{hashlib.sha256(v.encode()).hexdigest()[:7]}.el9",
        rhel=rhel, rhcos_image=image, kernel=kernel, supported_extensions=dict(ext),
        extension_validation=validation, default_runtime=default_runtime,
        default_has_runtime_tables=minor >= 15,
    )


_R = "Red Hat Enterprise Linux CoreOS"
RELEASES: dict[str, Release] = {r.version: r for r in (
    _rel(14, 27, 16, 8, "9.2", f"{_R} 414.92.202410211619-0 (Plow)", "5.14.0-284.88.1.el9_2", _EXT_414,
         "daemon", "runc"),
    _rel(15, 28, 14, 6, "9.2", f"{_R} 415.92.202410231535-0 (Plow)", "5.14.0-284.89.1.el9_2", _EXT_414,
         "daemon", "runc"),
    _rel(16, 29, 10, 9, "9.4", f"{_R} 416.94.202410211619-0 (Plow)", "5.14.0-427.40.1.el9_4", _EXT_414,
         "always", "runc"),
    _rel(17, 30, 7, 6, "9.4", f"{_R} 417.94.202410250757-0 (Plow)", "5.14.0-427.42.1.el9_4", _EXT_414,
         "always", "runc"),
    _rel(18, 31, 6, 5, "9.4", f"{_R} 418.94.202502111302-0 (Plow)", "5.14.0-427.50.1.el9_4", _EXT_418,
         "ignition", "crun"),
    _rel(19, 32, 5, 4, "9.6", f"{_R} 9.6.20250701-0 (Plow)", "5.14.0-570.25.1.el9_6", _EXT_419,
         "ignition", "crun"),
    _rel(20, 33, 4, 3, "9.6", f"{_R} 9.6.20251015-1 (Plow)", "5.14.0-570.49.1.el9_6", _EXT_419,
         "ignition", "crun"),
    _rel(21, 34, 4, 4, "9.6", f"{_R} 9.6.20260101-0 (Plow)", "5.14.0-570.70.1.el9_6", _EXT_419,
         "ignition", "crun"),
)}
SUPPORTED = tuple(RELEASES)
DEFAULT = "4.21"

# Which packages the extensions repository of each OS has, by RPM architecture
# (openshift/os extensions/rhel-9.x.yaml and centos-9.yaml, release-4.14 .. 4.21). Packages not
# listed here are taken to exist on every architecture (not checked).
REPO_ARCHES: dict[str, dict[str, tuple[str, ...]]] = {
    "rhcos": {"kata-containers": ("x86_64", "s390x")},  # extensions/rhel-9.x.yaml
    "scos": {"kata-containers": ("x86_64",)},  # extensions/centos-9.yaml / extensions-c9s.yaml
    "fcos": {},
}


def release(version: str | None) -> Release:
    """The profile of an OpenShift version ("4.16" or "4.16.3"); ValueError with a one-line message."""
    v = str(version or DEFAULT).strip()
    parts = v.split(".")
    key = ".".join(parts[:2]) if len(parts) >= 2 and all(p.isdigit() for p in parts) else v
    got = RELEASES.get(key)
    if got is None:
        raise ValueError(f"CLUSTER_OPENSHIFT_VERSION={v} is not supported; use one of {', '.join(SUPPORTED)}")
    return got


def os_image(os_name: str, rel: Release) -> str:
    """nodeInfo.osImage as /etc/os-release PRETTY_NAME reads on that OS and release."""
    if os_name == "scos":
        return f"CentOS Stream CoreOS {rel.minor + 400}.9.202410211619-0"
    if os_name == "fcos":
        return "Fedora CoreOS 39.20240210.3.0" if rel.minor >= 15 else "Fedora CoreOS 38.20231027.3.2"
    return rel.rhcos_image


def kernel_version(os_name: str, rel: Release, arch: str) -> str:
    """nodeInfo.kernelVersion (uname -r, which ends in the RPM architecture)."""
    fedora = "6.7.4-200.fc39" if rel.minor >= 15 else "6.5.8-200.fc38"
    base = fedora if os_name == "fcos" else rel.kernel
    return f"{base}.{RPM_ARCH.get(arch, arch)}"
