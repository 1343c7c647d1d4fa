"""Names shared by the simulator, its tests and the collection's tests.

MCO names are cited from the MCO source (pkg/daemon/constants, pkg/constants,
pkg/controller/common) through ../shared/reference/mco.md; the `sim.` names
are the simulator's own and are documented in README.md.
"""

from __future__ import annotations

import hashlib

MCO_GROUP = "machineconfiguration.openshift.io"
MCO_VERSION = "v1"
MCO_API = f"{MCO_GROUP}/{MCO_VERSION}"
MCO_NAMESPACE = "openshift-machine-config-operator"

# Node annotations of the MCD (mco.md 3.2).
PREFIX = "machineconfiguration.openshift.io/"
CURRENT_CONFIG = PREFIX + "currentConfig"
DESIRED_CONFIG = PREFIX + "desiredConfig"
FIRST_PIVOT_CONFIG = PREFIX + "firstPivotConfig"
STATE = PREFIX + "state"
REASON = PREFIX + "reason"
DESIRED_DRAIN = PREFIX + "desiredDrain"
LAST_APPLIED_DRAIN = PREFIX + "lastAppliedDrain"
POST_CONFIG_ACTION = PREFIX + "post-config-action"
CONTROL_PLANE_TOPOLOGY = PREFIX + "controlPlaneTopology"
DESIRED_IMAGE = PREFIX + "desiredImage"
CURRENT_IMAGE = PREFIX + "currentImage"

STATE_DONE = "Done"
STATE_WORKING = "Working"
STATE_DEGRADED = "Degraded"
STATE_UNRECONCILABLE = "Unreconcilable"
REBOOTING = "Rebooting"

# MachineConfig labels and annotations (pkg/controller/common/constants.go).
ROLE_LABEL = PREFIX + "role"
GENERATED_BY = PREFIX + "generated-by-controller-version"
RELEASE_IMAGE_VERSION = PREFIX + "release-image-version"
OS_IMAGE_URL_OVERRIDDEN = PREFIX + "os-image-url-overridden"
RENDERED_PREFIX = "rendered-"

# The taint the node controller puts on nodes not yet at their pool's target.
UPDATE_IN_PROGRESS_TAINT = {"key": "UpdateInProgress", "effect": "PreferNoSchedule"}

# The cluster-scoped config.openshift.io Scheduler objects (the MCO reads `cluster`).
SCHEDULER_PATH = "/apis/config.openshift.io/v1/schedulers"

# Pool condition types.
UPDATED = "Updated"
UPDATING = "Updating"
DEGRADED = "Degraded"
NODE_DEGRADED = "NodeDegraded"
RENDER_DEGRADED = "RenderDegraded"

# Well-known Kubernetes labels.
HOSTNAME_LABEL = "kubernetes.io/hostname"
OS_LABEL = "kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
ROLE_PREFIX = "node-role.kubernetes.io/"

# NFD-style labels: what Node Feature Discovery puts on a node whose CPU can
# run nested virtualization, and what the sandboxed containers operator
# checks (operator.md 1.13).
NFD_VMX = "feature.node.kubernetes.io/cpu-cpuid.VMX"
NFD_HYPERVISOR = "feature.node.kubernetes.io/cpu-cpuid.HYPERVISOR"
NFD_KATA = "feature.node.kubernetes.io/runtime.kata"
NFD_SIE = "feature.node.kubernetes.io/cpu-cpuid.SIE"  # s390x: the CPU can run guests (HWCAP_SIE)
OS_ID_LABEL = "node.openshift.io/os_id"  # the kubelet's --node-labels ...os_id=${ID} (os-release ID)

# The simulator's own annotations and knobs.
SIM = "sim.sandboxed.containers/"
REBOOTS = SIM + "reboots"  # how many times the node rebooted (tests read it)
REBOOTED_AT = SIM + "rebooted-at"  # when the current reboot began (RFC 3339)
UPDATE_STARTED = SIM + "update-started"  # when the daemon began the current update
UPDATE_TARGET = SIM + "update-target"  # the config that update is for
FAULT_FAIL = SIM + "fail"  # value = reason the daemon reports; node goes Degraded
FAULT_HANG = SIM + "hang"  # value = drain | apply | reboot: the daemon stops there
FAULT_CRIO = SIM + "crio-fails"  # value = CRI-O's error: after the next reboot CRI-O exits, the kubelet cannot start
# value = runtime handlers (comma separated) whose pods run on the node's kernel although CRI-O has them as VM
# runtimes: a "kata" handler that does not start a VM
FAULT_NATIVE = SIM + "runs-native"
SIM_REBOOTING = SIM + "rebooting"  # the simulator's own phase marker (post-config-action exists only from 4.15)
POD_COMPLETE_AFTER = SIM + "complete-after-seconds"  # a pod's containers exit after this
POD_EXIT_CODE = SIM + "exit-code"  # ... with this exit code (default 0)

INITIAL_ANNOTATION = SIM + "initial"  # on the knob ConfigMap: the cluster's seeded shape and knobs
KNOBS_CONFIGMAP = "machine-config-simulator"
KNOBS_NAMESPACE = MCO_NAMESPACE

FIELD_MANAGER = "machine-config-simulator"
EVENT_COMPONENT_CONTROLLER = "machineconfigcontroller"
EVENT_COMPONENT_DAEMON = "machineconfigdaemon"
EVENT_COMPONENT_KUBELET = "kubelet"


def _fake_hash(seed: str, n: int = 40) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


# What the MCO stamps on generated configs (its build's git hash) and the
# images the ControllerConfig would name; fixed values, so renders repeat.
CONTROLLER_VERSION = _fake_hash("sandboxed.containers machine-config simulator")
OS_IMAGE_URL = "registry.invalid/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + _fake_hash("rhel-coreos", 64)
EXTENSIONS_IMAGE = "registry.invalid/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + _fake_hash(
    "rhel-coreos-extensions", 64
)

# Ignition spec the MCO renders to (InternalMCOIgnitionVersion).
IGNITION_RENDER_VERSION = "3.5.0"
