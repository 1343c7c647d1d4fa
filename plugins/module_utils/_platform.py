# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What differs between OpenShift releases, node operating systems and architectures. Pure.

Each fact names the upstream source it comes from; docs/real-cluster.md has the support matrix.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ValidatingAdmissionPolicy in admissionregistration.k8s.io/v1: Kubernetes 1.30, on by default from OpenShift 4.17
# (openshift/api release-4.17 features/features.go); 4.14-4.16 do not serve it (4.16 only as a tech preview).
FIRST_ADMISSION_POLICY_RELEASE = (4, 17)
# MergeMachineConfigs sorts every MachineConfig by name on 4.14 and puts worker-role ones first from 4.15
# (machine-config-operator pkg/controller/common/helpers.go, commit 2750c2f20).
FIRST_WORKER_FIRST_MERGE = (4, 15)

ARCH_LABEL = "kubernetes.io/arch"
OS_ID_LABEL = "node.openshift.io/os_id"  # the kubelet's --node-labels ...os_id=${ID} from /etc/os-release

# The sandboxed-containers extension is built for these architectures only (openshift/os extensions/rhel-9.6.yaml
# on release-4.14 to 4.21: architectures [x86_64, s390x]; extensions/centos-9.yaml for OKD: x86_64 only).
EXTENSION_ARCHITECTURES = {"rhcos": ("amd64", "s390x"), "rhel": ("amd64", "s390x"), "scos": ("amd64",),
                           "centos": ("amd64",), "fedora": ("amd64",)}

NFD_PREFIX = "feature.node.kubernetes.io/"
NFD_KATA = NFD_PREFIX + "runtime.kata"  # the sandboxed containers operator's eligibility label
# What Node Feature Discovery's cpu source publishes for hardware virtualization, per architecture
# (node-feature-discovery source/cpu: x86 cpuid VMX/SVM; s390x hwcap SIE; none on arm64 or ppc64le).
VIRT_FEATURES = {
    "amd64": (NFD_PREFIX + "cpu-cpuid.VMX", NFD_PREFIX + "cpu-cpuid.SVM"),
    "s390x": (NFD_PREFIX + "cpu-cpuid.SIE",),
}


@dataclass(frozen=True)
class Release:
    major: int
    minor: int
    text: str  # as the ClusterVersion says it, e.g. 4.16.3

    @property
    def minor_version(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def serves_admission_policy(self) -> bool:
        return self.minor_version >= FIRST_ADMISSION_POLICY_RELEASE

    @property
    def worker_first_merge(self) -> bool:
        return self.minor_version >= FIRST_WORKER_FIRST_MERGE


def parse_release(text: str | None) -> Release | None:
    """4.16.3 (or 4.16) -> Release; None when absent or not a release."""
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?", text or "")
    return Release(int(m.group(1)), int(m.group(2)), text) if m else None


def cluster_release(cluster_version: dict | None) -> Release | None:
    """The release a ClusterVersion object says the cluster runs (the last completed one, else the desired one)."""
    status = (cluster_version or {}).get("status") or {}
    for h in status.get("history") or []:
        if h.get("state") == "Completed" and h.get("version"):
            return parse_release(h["version"])
    return parse_release((status.get("desired") or {}).get("version"))


def release_text(minor: tuple[int, int]) -> str:
    return f"{minor[0]}.{minor[1]}"


class UnsupportedOS(ValueError):
    """The node's operating system cannot take the extension through the MCO."""


def extension_for(os_id: str | None, os_image: str | None, release: Release | None) -> str:
    """The name to put in a MachineConfig's extensions for nodes of this operating system.

    machine-config-operator pkg/daemon/update.go: on EL nodes (os-release ID rhcos or scos, and ID rhel with
    VARIANT_ID coreos from 4.19; pkg/daemon/osrelease IsEL) extension names go through the allow-list, which maps
    sandboxed-containers to the kata-containers package; on Fedora CoreOS (OKD up to 4.15) names are package names
    and are not validated, so the MachineConfig must say kata-containers. From 4.16 the render controller checks
    every MachineConfig's extensions against the RHCOS allow-list whatever the OS (helpers.go
    ValidateMachineConfig), so no name works on Fedora CoreOS any more, and from 4.20 the daemon applies no
    extension on non-EL nodes. ID=centos (OKD's CentOS Stream CoreOS from 4.19) counts as EL only from 4.23
    (commit 0ffff0bb4).
    """
    os_id = (os_id or "").strip().lower()
    if os_image and "coreos" not in os_image.lower():
        raise UnsupportedOS(f"runs {os_image}, not a CoreOS: the Machine Config Operator installs extensions on "
                            "RHCOS (or an OKD CoreOS) only")
    if os_id in ("rhcos", "scos", "rhel", ""):
        return "sandboxed-containers"
    if os_id == "fedora":
        if release is not None and release.minor_version >= (4, 16):
            raise UnsupportedOS(
                "runs Fedora CoreOS, whose package name kata-containers the Machine Config Operator of this release "
                "refuses (it checks extensions against the RHCOS allow-list from 4.16)")
        return "kata-containers"
    if os_id == "centos":
        if release is not None and release.minor_version >= (4, 23):
            return "sandboxed-containers"
        raise UnsupportedOS("runs a CentOS Stream CoreOS that reports ID=centos, on which the Machine Config "
                            "Operator before 4.23 does not apply extensions")
    raise UnsupportedOS(f"reports the operating system {os_id!r}, which the Machine Config Operator does not install "
                        "extensions on")


def node_arch(node: dict) -> str:
    return ((node.get("metadata") or {}).get("labels") or {}).get(ARCH_LABEL) or \
        ((node.get("status") or {}).get("nodeInfo") or {}).get("architecture") or "amd64"


def node_os(node: dict) -> tuple[str, str]:
    """(os_id label, nodeInfo.osImage) of a node."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return labels.get(OS_ID_LABEL) or "", info.get("osImage") or ""


def virtualization_capable(node: dict) -> bool | None:
    """True or False where Node Feature Discovery labelled the node, None where it did not (no NFD).

    The operator's own eligibility label (runtime.kata) counts on every architecture; otherwise the CPU flag of
    the node's architecture (VMX or SVM on x86, SIE on IBM Z). A node whose architecture has no such flag is
    unknown rather than incapable.
    """
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not any(k.startswith(NFD_PREFIX) for k in labels):
        return None
    if labels.get(NFD_KATA) == "true":
        return True
    flags = VIRT_FEATURES.get(node_arch(node))
    if flags is None:
        return None
    return any(labels.get(k) == "true" for k in flags)
