# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Names: the collection's objects, labels and annotations, and the MCO's and Kubernetes' that it reads.

Each written once here, so that a module, a check and a test cannot disagree about one.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

MC_API = "machineconfiguration.openshift.io/v1"
RUNTIME_CLASS_API = "node.k8s.io/v1"

# The collection's objects, and the defaults of the settings that name them.
MACHINE_CONFIG_NAME = "50-sandboxed-containers"
DEFAULT_POOL_NAME = "kata-oc"
DEFAULT_RUNTIME_CLASS = "kata"
DEFAULT_HANDLER = "kata"

# Advanced Cluster Management's Policy and ConfigurationPolicy, which the render may wrap the objects in.
ACM_API = "policy.open-cluster-management.io/v1"

# The collection's label on every object it created (or adopted); it acts on no other object of its names.
MANAGED_BY = {"app.kubernetes.io/managed-by": "sandboxed.containers"}
MANAGED_BY_TEXT = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
# The setting that lets install take over objects of the collection's names that it did not create.
ADOPT_SETTING = "sandboxed_containers_adopt"
VERSION_ANNOTATION = "sandboxed.containers/version"
FIELD_MANAGER = "sandboxed.containers"
# On every node whose rendered config carries our MachineConfig, with the handler as value; the RuntimeClass
# schedules onto this label, so sandboxed pods never land on a node without the handler (a schedulable
# control-plane node carries the worker role label, yet the MCO keeps it in the master pool).
HANDLER_LABEL = "sandboxed.containers/handler"
# On a pool the collection paused to stage a change (sandboxed_containers_rollout: staged), with the operation as
# value: a later run resumes only a pool with this mark; one paused by someone else is theirs to resume.
PAUSED_BY_ANNOTATION = "sandboxed.containers/paused-by-collection"
# With that label, on each node the collection labelled: when (RFC 3339, UTC), for status and the report.
READY_SINCE_ANNOTATION = "sandboxed.containers/ready-since"

# The extension: RHCOS and SCOS name it through the MCO's allow-list, Fedora CoreOS by its package name.
EXTENSION = "sandboxed-containers"
KATA_EXTENSIONS = ("sandboxed-containers", "kata-containers")

CRIO_DROPIN_DIR = "/etc/crio/crio.conf.d/"
# The kata-containers RPM ships /etc/crio/crio.conf.d/50-kata with the kata handler. The collection's file sorts
# after it: CRI-O reads drop-ins in lexical order and the handler table read last replaces the earlier one whole
# (BurntSushi/toml builds each map entry afresh), so the collection's settings win for its handler while the RPM's
# file is never masked on disk and RHEL's updates to it still reach the node (docs/architecture.md).
CRIO_DROPIN_PATH = CRIO_DROPIN_DIR + "51-sandboxed-containers"
RPM_DROPIN_PATH = CRIO_DROPIN_DIR + "50-kata"

# The MCO's labels: a MachineConfig's role (what pools select), a node's role (what a pool's nodeSelector
# matches), a pool's own label (what a ContainerRuntimeConfig or KubeletConfig selects).
ROLE_LABEL = "machineconfiguration.openshift.io/role"
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
POOL_LABEL_PREFIX = "pools.operator.machineconfiguration.openshift.io/"

# The machine-config daemon's node annotations.
CURRENT_CONFIG = "machineconfiguration.openshift.io/currentConfig"
DESIRED_CONFIG = "machineconfiguration.openshift.io/desiredConfig"
MCD_STATE = "machineconfiguration.openshift.io/state"
MCD_REASON = "machineconfiguration.openshift.io/reason"
# The drain handshake between the daemon and the drain controller (drain-<config> / uncordon-<config>), and the
# action after the update's files are written (Rebooting until the node is back, 4.15+).
DESIRED_DRAIN = "machineconfiguration.openshift.io/desiredDrain"
LAST_APPLIED_DRAIN = "machineconfiguration.openshift.io/lastAppliedDrain"
POST_CONFIG_ACTION = "machineconfiguration.openshift.io/post-config-action"


def node_role_label(pool: str) -> str:
    return NODE_ROLE_PREFIX + pool


def role_of(mc: dict | None) -> str | None:
    """The role label of a MachineConfig: the pools whose machineConfigSelector takes it."""
    return (((mc or {}).get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL)
