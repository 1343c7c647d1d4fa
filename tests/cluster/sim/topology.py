"""The cluster the simulator pretends to run on: nodes, base MachineConfigs, knobs.

Hooks called by localcluster: `seed(api_client, settings)` before the
simulator starts on a fresh cluster, and `wait_settled(api_client)` after.

Topologies (CLUSTER_TOPOLOGY):
  standard  master-0..2 (control plane) and worker-0..N-1 (CLUSTER_WORKERS, default 3)
  compact   master-0..2, schedulable (worker role too), plus worker-0..N-1 (default 0)
  sno       master-0, schedulable, plus worker-0..N-1 (default 0)
and infra-0..N-1 (CLUSTER_INFRA_NODES) in an `infra` pool. Nodes are spread
over three zones (us-east-1a/b/c) by index. The shape of a cluster is a
`Shape`, kept on the knob ConfigMap for testing.reset.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from . import pools as P
from . import releases
from .constants import (
    ARCH_LABEL,
    CONTROLLER_VERSION,
    GENERATED_BY,
    HOSTNAME_LABEL,
    INITIAL_ANNOTATION,
    KNOBS_CONFIGMAP,
    KNOBS_NAMESPACE,
    MCO_API,
    NFD_HYPERVISOR,
    NFD_KATA,
    NFD_SIE,
    NFD_VMX,
    OS_ID_LABEL,
    OS_LABEL,
    REGION_LABEL,
    ROLE_LABEL,
    ROLE_PREFIX,
    SCHEDULER_PATH,
    STATE,
    STATE_DONE,
    UPDATED,
    ZONE_LABEL,
)
from .knobs import Knobs
from .kube import ApiError, Kube, cm_path, mc_path, mcp_path, node_path

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
DEFAULT_WORKERS = {"standard": 3, "compact": 0, "sno": 0}
PRESETS = ("ipsec", "osc-leftover")
INFRA_POOL = "infra"


@dataclass(frozen=True)
class Shape:
    """What a cluster is made of (the CLUSTER_* knobs of localcluster Settings)."""

    topology: str = "standard"
    workers: int = 3
    masters_schedulable: bool = False  # the Scheduler's spec; compact and sno are always schedulable
    infra: int = 0
    arch: tuple[tuple[str, str], ...] = ()  # node -> architecture; the others are amd64
    not_virt: tuple[str, ...] = ()
    no_nfd: tuple[str, ...] = ()  # nodes without any NFD label ("all": every node)
    machine_configs: tuple[str, ...] = ()  # presets seeded at start
    os: str = "rhcos"

    @property
    def schedulable(self) -> bool:
        return self.masters_schedulable or self.topology != "standard"

    def arch_of(self, node: str) -> str:
        got = dict(self.arch)
        return got.get(node, got.get("all", "amd64"))

    def nfd(self, node: str) -> bool:
        return not ("all" in self.no_nfd or node in self.no_nfd)

    def to_json(self) -> dict[str, Any]:
        return {"topology": self.topology, "workers": self.workers, "masters_schedulable": self.masters_schedulable,
                "infra": self.infra, "arch": dict(self.arch), "not_virt": list(self.not_virt),
                "no_nfd": list(self.no_nfd), "machine_configs": list(self.machine_configs), "os": self.os}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Shape:
        return cls.make(**{k: d[k] for k in ("topology", "workers", "masters_schedulable", "infra", "arch",
                                             "not_virt", "no_nfd", "machine_configs", "os") if k in d})

    @classmethod
    def make(cls, *, topology: str = "standard", workers: int | None = None, masters_schedulable: bool = False,
             infra: int = 0, arch: Any = None, not_virt: Iterable[str] = (), no_nfd: Any = (),
             machine_configs: Iterable[str] = (), os: str = "rhcos") -> Shape:
        """A checked Shape; ValueError naming the bad value."""
        if topology not in DEFAULT_WORKERS:
            raise ValueError(f"topology {topology!r} is not one of {', '.join(DEFAULT_WORKERS)}")
        if os not in releases.OSES:
            raise ValueError(f"os {os!r} is not one of {', '.join(releases.OSES)}")
        arch_map = _pairs(arch)
        for node, a in arch_map.items():
            if a not in releases.ARCHES:
                raise ValueError(f"architecture {a!r} of {node} is not one of {', '.join(releases.ARCHES)}")
        presets = tuple(_names(machine_configs))
        for m in presets:
            if m not in PRESETS:
                raise ValueError(f"MachineConfig preset {m!r} is not one of {', '.join(PRESETS)}")
        return cls(topology=topology, workers=DEFAULT_WORKERS[topology] if workers is None else int(workers),
                   masters_schedulable=bool(masters_schedulable), infra=int(infra or 0),
                   arch=tuple(sorted(arch_map.items())), not_virt=tuple(_names(not_virt)),
                   no_nfd=tuple(_names(no_nfd)), machine_configs=presets, os=os)

    @classmethod
    def from_settings(cls, settings: Any) -> Shape:
        """From localcluster.Settings; fields it does not have yet take their defaults."""
        workers = getattr(settings, "workers", None)  # None: the topology's default
        return cls.make(topology=settings.topology, workers=None if workers is None else int(workers),
                        masters_schedulable=bool(getattr(settings, "masters_schedulable", False)),
                        infra=int(getattr(settings, "infra", 0) or 0), arch=getattr(settings, "arch", None),
                        not_virt=tuple(getattr(settings, "not_virt", ()) or ()),
                        no_nfd=getattr(settings, "no_nfd", ()) or (),
                        machine_configs=getattr(settings, "machine_configs", ()) or (),
                        os=getattr(settings, "os", None) or "rhcos")


def _names(v: Any) -> list[str]:
    if isinstance(v, str):
        return [x for x in v.replace(",", " ").split() if x]
    return [str(x) for x in v or ()]


def _pairs(v: Any) -> dict[str, str]:
    if not v:
        return {}
    if isinstance(v, str):
        out = {}
        for item in _names(v):
            k, _sep, a = item.partition("=")
            out[k] = a
        return out
    return {str(k): str(a) for k, a in (v.items() if isinstance(v, dict) else v)}


def node_names(topology: str, workers: int, infra: int = 0) -> list[tuple[str, tuple[str, ...]]]:
    """(name, roles) of the nodes of a topology; masters first, then workers, then infra nodes."""
    if topology == "sno":
        masters = [("master-0", ("master", "worker"))]
    elif topology == "compact":
        masters = [(f"master-{i}", ("master", "worker")) for i in range(3)]
    elif topology == "standard":
        masters = [(f"master-{i}", ("master",)) for i in range(3)]
    else:
        raise ValueError(f"unknown topology {topology!r}")
    return (masters + [(f"worker-{i}", ("worker",)) for i in range(workers)]
            + [(f"infra-{i}", ("worker", "infra")) for i in range(infra)])


def _stable(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


# A few cpuid flags NFD reports per architecture (node-feature-discovery
# source/cpu/cpuid_*.go); only the virtualization ones matter to the collection.
NFD_BASE = {
    "amd64": ("AVX", "AVX2"),
    "arm64": ("ASIMD", "AES"),
    "ppc64le": ("ALTIVEC", "VSX"),
    "s390x": ("VX", "ZARCH"),
}
NFD_CPUID = "feature.node.kubernetes.io/cpu-cpuid."


def nfd_labels(arch: str, virt: bool) -> dict[str, str]:
    """What Node Feature Discovery labels a node with (node-feature-discovery source/cpu/cpuid_*.go).

    amd64: VMX (Intel; SVM on AMD) and the runtime.kata rule's label when the
    CPU can virtualize, HYPERVISOR in a VM without nested virtualization; s390x:
    SIE (no runtime.kata: the known rules are x86 only); arm64 and ppc64le have
    no cpuid flag for virtualization.
    """
    out = {NFD_CPUID + f: "true" for f in NFD_BASE.get(arch, ())}
    if arch == "amd64":
        if virt:
            out[NFD_VMX] = "true"
            out[NFD_KATA] = "true"
        else:
            out[NFD_HYPERVISOR] = "true"
    elif arch == "s390x" and virt:
        out[NFD_SIE] = "true"
    return out


def build_node(name: str, roles: tuple[str, ...], index: int, *, virt: bool = True, zone: str | None = None,
               schedulable_masters: bool = False, labels: dict[str, str] | None = None, arch: str = "amd64",
               nfd: bool = True, os_name: str = "rhcos", release: releases.Release | None = None) -> dict[str, Any]:
    """A Node object as a kubelet on a CoreOS machine registers it (status included).

    `index` picks the zone, the addresses and the pod CIDR; a schedulable master
    carries the worker role and no master taint (node_controller reconcileMaster).
    """
    rel = release or releases.release(None)
    zone = zone or ZONES[index % len(ZONES)]
    master = "master" in roles
    if master and schedulable_masters and "worker" not in roles:
        roles = (*roles, "worker")
    worker = "worker" in roles
    lbl = {
        HOSTNAME_LABEL: name, OS_LABEL: "linux", ARCH_LABEL: arch,
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch,
        OS_ID_LABEL: releases.OS_ID[os_name],
        "node.kubernetes.io/instance-type": _instance_type(arch, master),
        REGION_LABEL: REGION, ZONE_LABEL: zone,
    }
    for r in roles:
        lbl[ROLE_PREFIX + r] = ""
    if master:
        lbl[ROLE_PREFIX + "control-plane"] = ""
    if nfd:
        lbl.update(nfd_labels(arch, virt))
    lbl.update(labels or {})
    cpu, mem = ("8", 32) if master else ("4", 16)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ip = f"10.0.{index // 250}.{10 + index % 250}"
    cond = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    taints = []
    if master and not worker:
        taints.append({"key": ROLE_PREFIX + "master", "effect": "NoSchedule"})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": lbl,
                     "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": f"10.128.{(index * 2) % 256}.0/23", "podCIDRs": [f"10.128.{(index * 2) % 256}.0/23"],
                 "providerID": f"aws:///{zone}/i-{_stable(name, 17)}", **({"taints": taints} if taints else {})},
        "status": {
            "capacity": {"cpu": cpu, "memory": f"{mem}Gi", "pods": "250", "ephemeral-storage": "125293548Ki",
                         "hugepages-1Gi": "0", "hugepages-2Mi": "0"},
            "allocatable": {"cpu": f"{int(cpu) * 1000 - 500}m", "memory": f"{mem * 1024 - 1536}Mi", "pods": "250",
                            "ephemeral-storage": "114396791822", "hugepages-1Gi": "0", "hugepages-2Mi": "0"},
            "conditions": [{"type": t, "status": s, "reason": r, "message": m, "lastHeartbeatTime": now,
                            "lastTransitionTime": now} for t, s, r, m in cond],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": _stable(name + "machine", 32), "systemUUID": str(uuid.UUID(_stable(name, 32))),
                "bootID": str(uuid.UUID(_stable(name + "boot0", 32))),
                "kernelVersion": releases.kernel_version(os_name, rel, arch),
                "osImage": releases.os_image(os_name, rel), "containerRuntimeVersion": rel.crio_version,
                "kubeletVersion": rel.kubelet_version, "kubeProxyVersion": "", "operatingSystem": "linux",
                "architecture": arch,
            },
        },
    }


def _instance_type(arch: str, master: bool) -> str:
    family = {"amd64": "m6i", "arm64": "m6g"}.get(arch)
    if family is None:  # no such AWS machines: a bare-metal style name
        return f"{arch}-{'large' if master else 'medium'}"
    return f"{family}.{'2xlarge' if master else 'xlarge'}"


# -- base MachineConfigs -----------------------------------------------------------------

def data_url(text: str) -> str:
    return "data:text/plain;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()


def crio_default(release: releases.Release | None = None) -> str:
    """/etc/crio/crio.conf.d/00-default as the MCO writes it (templates/<role>/01-<role>-container-
    runtime/_base/files/crio.yaml): no runtime tables on release-4.14 (CRI-O's built-in runc),
    runc and crun tables from 4.15, `default_runtime = "crun"` from 4.18."""
    rel = release or releases.release(None)
    default = 'default_runtime = "crun"\n' if rel.default_runtime == "crun" else ""
    repair = "internal_repair = true\n" if rel.minor >= 17 else ""
    tables = ""
    if rel.default_has_runtime_tables:
        ann = """allowed_annotations = [
    "io.containers.trace-syscall",
    "io.kubernetes.cri-o.Devices",
    "io.kubernetes.cri-o.LinkLogs",
]
"""
        runc_root = 'runtime_root = "/run/runc"\n' if rel.minor >= 18 else ""  # MCO dc02fb51f
        crun_extra = ""
        if rel.minor >= 17:
            crun_extra += 'container_min_memory = "512KiB"\n'
        if rel.minor >= 18:
            crun_extra += 'default_annotations = {"run.oci.systemd.subgroup" = ""}\n'
        tables = (f"\n[crio.runtime.runtimes.runc]\n{runc_root}{ann}"
                  f"\n[crio.runtime.runtimes.crun]\nruntime_root = \"/run/crun\"\n{ann}{crun_extra}")
    pause = hashlib.sha256(b"pause").hexdigest()
    return f"""[crio]
internal_wipe = true
{repair}
[crio.api]
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
selinux = true
conmon = ""
conmon_cgroup = "pod"
default_env = [
    "NSS_SDB_USE_CACHE=no",
]
log_level = "info"
cgroup_manager = "systemd"
default_sysctls = [
    "net.ipv4.ping_group_range=0 2147483647",
]
{default}hooks_dir = [
    "/etc/containers/oci/hooks.d",
    "/run/containers/oci/hooks.d",
    "/usr/share/containers/oci/hooks.d",
]
manage_ns_lifecycle = true
absent_mount_sources_to_reject = [
    "/etc/hostname",
]
drop_infra_ctr = true
{tables}
[crio.image]
global_auth_file = "/var/lib/kubelet/config.json"
pause_image = "registry.invalid/openshift-release-dev/ocp-v4.0-art-dev@sha256:{pause}"
pause_image_auth_file = "/var/lib/kubelet/config.json"
pause_command = "/usr/bin/pod"

[crio.network]
network_dir = "/etc/kubernetes/cni/net.d/"
plugin_dirs = [
    "/var/lib/cni/bin",
]

[crio.metrics]
enable_metrics = true
metrics_port = 9537
"""


REGISTRIES = """unqualified-search-registries = ["registry.invalid"]
short-name-mode = ""
"""

KUBELET_UNIT = """[Unit]
Description=Kubernetes Kubelet
Requires=crio.service kubelet-dependencies.target
After=kubelet-dependencies.target
After=ostree-finalize-staged.service

[Service]
Type=notify
ExecStart=/usr/bin/kubelet --config=/etc/kubernetes/kubelet.conf --bootstrap-kubeconfig=/etc/kubernetes/kubeconfig \\
    --kubeconfig=/var/lib/kubelet/kubeconfig --container-runtime-endpoint=/var/run/crio/crio.sock \\
    --node-labels=node-role.kubernetes.io/ROLE,node.openshift.io/os_id=${ID}
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
"""


def _file(path: str, text: str, mode: int = 0o644) -> dict:
    return {"path": path, "mode": mode, "overwrite": True, "contents": {"source": data_url(text)}}


def base_machine_configs(role: str, release: releases.Release | None = None) -> list[dict]:
    """The MachineConfigs a fresh cluster has for a role (names as on OpenShift 4.14 to 4.21).

    Small stand-ins for the real ones: enough content for renders, diffs and
    CRI-O's configuration, nothing a test depends on except their names.
    """
    gen = {GENERATED_BY: CONTROLLER_VERSION}
    labels = {ROLE_LABEL: role}

    def mc(name: str, spec: dict, generated: bool = True) -> dict:
        return {"apiVersion": MCO_API, "kind": "MachineConfig",
                "metadata": {"name": name, "labels": dict(labels), **({"annotations": dict(gen)} if generated else {})},
                "spec": spec}

    ign = "3.5.0"
    ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + _stable("sim-ssh-key", 43) + " core@local"
    return [
        mc(f"00-{role}", {"config": {"ignition": {"version": ign}, "storage": {"files": [
            _file("/etc/kubernetes/kubelet-ca.crt",
                  "-----BEGIN CERTIFICATE-----\nSIMULATED\n-----END CERTIFICATE-----\n"),
            _file("/etc/sysctl.d/inotify.conf", "fs.inotify.max_user_watches = 65536\n"),
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "default", "osImageURL": ""}),
        mc(f"01-{role}-container-runtime", {"config": {"ignition": {"version": ign}, "storage": {"files": [
            _file("/etc/crio/crio.conf.d/00-default", crio_default(release)),
            _file("/etc/containers/storage.conf", '[storage]\ndriver = "overlay"\nrunroot = "/run/containers/storage"\n'
                  'graphroot = "/var/lib/containers/storage"\n'),
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "default", "osImageURL": ""}),
        mc(f"01-{role}-kubelet", {"config": {"ignition": {"version": ign}, "systemd": {"units": [
            {"name": "kubelet.service", "enabled": True, "contents": KUBELET_UNIT.replace("ROLE", role)},
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "default", "osImageURL": ""}),
        mc(f"97-{role}-generated-kubelet", {"config": {"ignition": {"version": ign}, "storage": {"files": [
            _file("/etc/node-sizing-enabled.env", "NODE_SIZING_ENABLED=false\nSYSTEM_RESERVED_MEMORY=1Gi\n"
                  "SYSTEM_RESERVED_CPU=500m\n"),
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "default", "osImageURL": ""}),
        mc(f"98-{role}-generated-kubelet", {"config": {"ignition": {"version": ign}, "storage": {"files": [
            _file("/etc/kubernetes/kubelet.conf",
                  "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"
                  "cgroupDriver: systemd\nmaxPods: 250\n"),
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "default", "osImageURL": ""}),
        mc(f"99-{role}-generated-registries", {"config": {"ignition": {"version": ign}, "storage": {"files": [
            _file("/etc/containers/registries.conf", REGISTRIES),
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "default", "osImageURL": ""}),
        mc(f"99-{role}-ssh", {"config": {"ignition": {"version": "3.2.0"}, "passwd": {"users": [
            {"name": "core", "sshAuthorizedKeys": [ssh_key]},
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "", "osImageURL": ""},
            generated=False),
    ]


def base_machine_config_names() -> set[str]:
    return {mc["metadata"]["name"] for role in ("master", "worker") for mc in base_machine_configs(role)}


# The network operator's IPsec MachineConfigs (openshift/cluster-network-operator
# bindata/network/ovn-kubernetes/common/80-ipsec-{master,worker}-extensions.yaml,
# release-4.15 .. 4.21, identical): one unit, the ipsec extension. The
# operator owns them through the Network config; that owner does not exist
# here, so they carry no ownerReference (the garbage collector would delete them).
IPSEC_UNIT = """[Unit]
Description=Enable ipsec service after os extension installation
Before=kubelet.service

[Service]
Type=oneshot
ExecStartPre=rm -f /etc/ipsec.d/cno.conf
ExecStart=systemctl enable --now ipsec.service

[Install]
WantedBy=multi-user.target
"""
OSC_LEFTOVER = "50-enable-sandboxed-containers-extension"


def preset_machine_configs(names: Iterable[str], release: releases.Release | None = None) -> list[dict]:
    """The MachineConfigs of the CLUSTER_MACHINECONFIGS presets; ValueError for one the release lacks."""
    rel = release or releases.release(None)
    out: list[dict] = []
    for name in names:
        if name == "ipsec":
            if not rel.ipsec_extension_mcs:
                raise ValueError(f"CLUSTER_MACHINECONFIGS=ipsec needs OpenShift 4.15 or later: the network operator "
                                 f"creates 80-ipsec-master-extensions and 80-ipsec-worker-extensions from release-4.15 "
                                 f"(this cluster is {rel.version})")
            for role in ("master", "worker"):
                out.append({"apiVersion": MCO_API, "kind": "MachineConfig",
                            "metadata": {"name": f"80-ipsec-{role}-extensions", "labels": {ROLE_LABEL: role}},
                            "spec": {"config": {"ignition": {"version": "3.2.0"}, "systemd": {"units": [
                                {"name": "ipsecenabler.service", "enabled": True, "contents": IPSEC_UNIT}]}},
                                "extensions": ["ipsec"]}})
        elif name == "osc-leftover":
            # the sandboxed containers operator's (controllers/openshift_controller.go newMCForCR): an
            # Ignition 3.2.0 config without files, the extension, labelled with the KataConfig's name
            labels = {ROLE_LABEL: "worker", "app": "example-kataconfig"}
            out.append({"apiVersion": MCO_API, "kind": "MachineConfig",
                        "metadata": {"name": OSC_LEFTOVER, "labels": labels},
                        "spec": {"config": {"ignition": {"version": "3.2.0"}}, "extensions": ["sandboxed-containers"]}})
        else:
            raise ValueError(f"MachineConfig preset {name!r} is not one of {', '.join(PRESETS)}")
    return out


def infra_pool() -> dict:
    """The infra pool of the OpenShift docs (machineConfigSelector role In [worker, infra])."""
    label = f"pools.operator.machineconfiguration.openshift.io/{INFRA_POOL}"
    return {"apiVersion": MCO_API, "kind": "MachineConfigPool",
            "metadata": {"name": INFRA_POOL, "labels": {label: ""}},
            "spec": {"machineConfigSelector": {"matchExpressions": [
                {"key": ROLE_LABEL, "operator": "In", "values": ["worker", INFRA_POOL]}]},
                "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{INFRA_POOL}": ""}}}}


def knobs_configmap(knobs: Knobs, extra: dict[str, str] | None = None, *, shape: Shape | None = None) -> dict:
    """The knob store; its annotation keeps the cluster's initial shape for testing.reset."""
    data = {**knobs.to_data(), **(extra or {})}
    initial = {**(shape or Shape()).to_json(), "data": data}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": KNOBS_CONFIGMAP, "namespace": KNOBS_NAMESPACE,
                         "labels": {"app.kubernetes.io/name": "machine-config-simulator"},
                         "annotations": {INITIAL_ANNOTATION: json.dumps(initial, sort_keys=True)}},
            "data": data}


# -- hooks -----------------------------------------------------------------------------

def _kube(api_client: client.ApiClient | Kube) -> Kube:
    return api_client if isinstance(api_client, Kube) else Kube(api_client)


def _create(kube: Kube, path: str, body: dict) -> None:
    try:
        kube.create(path, body)
    except ApiError as e:
        if not e.exists:
            raise


def create_nodes(kube: Kube, shape: Shape, release: releases.Release | None = None) -> list[str]:
    """The nodes of a shape, as their kubelets register them."""
    names = []
    for i, (name, roles) in enumerate(node_names(shape.topology, shape.workers, shape.infra)):
        _create(kube, node_path(), build_node(name, roles, i, virt=name not in shape.not_virt,
                                              schedulable_masters=shape.schedulable, arch=shape.arch_of(name),
                                              nfd=shape.nfd(name), os_name=shape.os, release=release))
        names.append(name)
    return names


def set_masters_schedulable(kube: Kube, schedulable: bool) -> bool:
    """The Scheduler `cluster`'s spec.mastersSchedulable (created if missing); False when the
    config.openshift.io Scheduler API is not served (its CRD not installed)."""
    body = {"apiVersion": "config.openshift.io/v1", "kind": "Scheduler", "metadata": {"name": "cluster"},
            "spec": {"mastersSchedulable": schedulable}}
    try:
        cur = kube.get(f"{SCHEDULER_PATH}/cluster")
    except ApiError as e:
        if not e.not_found:
            raise
        try:
            kube.create(SCHEDULER_PATH, body)
        except ApiError as e2:
            if e2.not_found:
                return False  # no such API (yet)
            if not e2.exists:
                raise
        return True
    if (cur.get("spec") or {}).get("mastersSchedulable") != schedulable:
        kube.merge_patch(f"{SCHEDULER_PATH}/cluster", {"spec": {"mastersSchedulable": schedulable}})
    return True


def seed(api_client: client.ApiClient | Kube, settings: Any) -> None:
    """A fresh cluster: the knob ConfigMap, the Scheduler, the base and preset MachineConfigs,
    the infra pool, the nodes.

    `settings` is localcluster.Settings (topology, workers, not_virt, render_delay,
    node_update, extra, and when it has them openshift_version, masters_schedulable,
    infra, arch, no_nfd, machine_configs, os). Idempotent. ValueError for a preset
    the release does not have.
    """
    kube = _kube(api_client)
    rel = releases.release(getattr(settings, "openshift_version", None))
    shape = Shape.from_settings(settings)
    presets = preset_machine_configs(shape.machine_configs, rel)
    knobs = Knobs(render_delay=float(settings.render_delay), node_update=float(settings.node_update),
                  topology=shape.topology, openshift_version=rel.version)
    extra = {k: str(v) for k, v in (getattr(settings, "extra", None) or {}).items()}
    _create(kube, cm_path(KNOBS_NAMESPACE), knobs_configmap(knobs, extra, shape=shape))
    set_masters_schedulable(kube, shape.schedulable)
    for role in ("master", "worker"):
        for mc in base_machine_configs(role, rel):
            _create(kube, mc_path(), mc)
    for mc in presets:
        _create(kube, mc_path(), mc)
    if shape.infra:
        _create(kube, mcp_path(), infra_pool())
    create_nodes(kube, shape, rel)


def settled(kube: Kube) -> tuple[bool, str]:
    """(True, "") when every pool has rendered and is Updated, and every managed node is Done."""
    pools = kube.get(mcp_path()).get("items") or []
    if not pools:
        return False, "no MachineConfigPools"
    for p in pools:
        name = P.name(p)
        tgt = P.target(p)
        st = p.get("status") or {}
        if not tgt:
            return False, f"pool {name} has not rendered"
        if st.get("observedGeneration") != p["metadata"].get("generation"):
            return False, f"pool {name} status is not current"
        if (st.get("configuration") or {}).get("name") != tgt:
            return False, f"pool {name} is not at {tgt}"
        if not P.is_condition_true(st, UPDATED):
            return False, f"pool {name} is not Updated"
    all_pools = pools
    for n in kube.get(node_path()).get("items") or []:
        if P.is_windows(n):
            continue
        try:
            pool = P.primary_pool(n, all_pools)
        except P.PoolMembershipError:
            continue
        if pool is None:
            continue
        a = P.annotations(n)
        if a.get(STATE) != STATE_DONE or not P.is_updated(n, pool):
            return False, f"node {P.name(n)} is not Done at {P.target(pool)}"
    return True, ""


def wait_settled(api_client: client.ApiClient | Kube, timeout: float = 90.0) -> None:
    """Returns once the cluster is in the state of a freshly installed one (every pool rendered and
    Updated, every node seeded and Done); raises TimeoutError naming what is missing."""
    kube = _kube(api_client)
    deadline = time.monotonic() + timeout
    why = ""
    while time.monotonic() < deadline:
        ok, why = settled(kube)
        if ok:
            return
        time.sleep(0.1)
    raise TimeoutError(f"the simulated cluster did not settle in {timeout:.0f} s: {why}")
