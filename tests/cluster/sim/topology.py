"""The cluster the simulator pretends to run on: nodes, base MachineConfigs, knobs.

Hooks called by localcluster: `seed(api_client, settings)` before the
simulator starts on a fresh cluster, and `wait_settled(api_client)` after.

Topologies (CLUSTER_TOPOLOGY):
  standard  master-0..2 (control plane) and worker-0..N-1 (CLUSTER_WORKERS, default 3)
  compact   master-0..2 carrying the worker role too; the worker pool is empty
  sno       one node, master-0, master and worker
Nodes are spread over three zones (us-east-1a/b/c) by index.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

from kubernetes import client

from . import pools as P
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
    NFD_VMX,
    OS_LABEL,
    REGION_LABEL,
    ROLE_LABEL,
    ROLE_PREFIX,
    STATE,
    STATE_DONE,
    UPDATED,
    ZONE_LABEL,
)
from .knobs import Knobs
from .kube import ApiError, Kube, cm_path, mc_path, mcp_path, node_path

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
KUBELET_VERSION = "v1.34.4"
CRIO_VERSION = "cri-o://1.34.4-2.rhaos4.21.gitabcdef0.el9"
OS_IMAGE = "Red Hat Enterprise Linux CoreOS 9.6.20260101-0 (Plow)"
KERNEL = "5.14.0-570.70.1.el9_6.x86_64"


def node_names(topology: str, workers: int) -> list[tuple[str, tuple[str, ...]]]:
    """(name, roles) of the nodes of a topology."""
    if topology == "sno":
        return [("master-0", ("master", "worker"))]
    if topology == "compact":
        return [(f"master-{i}", ("master", "worker")) for i in range(3)]
    if topology != "standard":
        raise ValueError(f"unknown topology {topology!r}")
    return [(f"master-{i}", ("master",)) for i in range(3)] + [(f"worker-{i}", ("worker",)) for i in range(workers)]


def _stable(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def build_node(name: str, roles: tuple[str, ...], index: int, *, virt: bool = True, zone: str | None = None,
               schedulable_masters: bool = False, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Node object as a kubelet on an RHCOS machine registers it (status included).

    `index` picks the zone, the addresses and the pod CIDR.
    """
    zone = zone or ZONES[index % len(ZONES)]
    worker = "worker" in roles
    master = "master" in roles
    lbl = {
        HOSTNAME_LABEL: name, OS_LABEL: "linux", ARCH_LABEL: "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
        "node.openshift.io/os_id": "rhcos",
        "node.kubernetes.io/instance-type": "m6i.2xlarge" if master else "m6i.xlarge",
        REGION_LABEL: REGION, ZONE_LABEL: zone,
    }
    for r in roles:
        lbl[ROLE_PREFIX + r] = ""
    if master:
        lbl[ROLE_PREFIX + "control-plane"] = ""
    if virt:
        lbl[NFD_VMX] = "true"
        lbl[NFD_KATA] = "true"
    else:
        lbl[NFD_HYPERVISOR] = "true"  # a VM without nested virtualization
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
    if master and not worker and not schedulable_masters:
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
                "bootID": str(uuid.UUID(_stable(name + "boot0", 32))), "kernelVersion": KERNEL,
                "osImage": OS_IMAGE, "containerRuntimeVersion": CRIO_VERSION, "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
            },
        },
    }


# -- base MachineConfigs -----------------------------------------------------------------

def data_url(text: str) -> str:
    return "data:text/plain;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()


CRIO_DEFAULT = """[crio]
internal_wipe = true
internal_repair = false

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
default_runtime = "crun"
log_level = "info"
cgroup_manager = "systemd"
default_sysctls = [
    "net.ipv4.ping_group_range=0 2147483647",
]
hooks_dir = [
    "/etc/containers/oci/hooks.d",
    "/run/containers/oci/hooks.d",
    "/usr/share/containers/oci/hooks.d",
]
manage_ns_lifecycle = true
absent_mount_sources_to_reject = [
    "/etc/hostname",
]
drop_infra_ctr = true

[crio.runtime.runtimes.runc]
runtime_root = "/run/runc"
allowed_annotations = [
    "io.containers.trace-syscall",
]

[crio.runtime.runtimes.crun]
runtime_root = "/run/crun"
allowed_annotations = [
    "io.containers.trace-syscall",
]

[crio.image]
global_auth_file = "/var/lib/kubelet/config.json"
pause_image = "registry.invalid/openshift-release-dev/ocp-v4.0-art-dev@sha256:PAUSE"
pause_image_auth_file = "/var/lib/kubelet/config.json"
pause_command = "/usr/bin/pod"

[crio.network]
network_dir = "/etc/kubernetes/cni/net.d/"
plugin_dirs = [
    "/var/lib/cni/bin",
]

[crio.metrics]
enable_metrics = true
metrics_host = "127.0.0.1"
metrics_port = 9537
""".replace("PAUSE", hashlib.sha256(b"pause").hexdigest())

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


def base_machine_configs(role: str) -> list[dict]:
    """The MachineConfigs a fresh cluster has for a role (names as on OpenShift 4.21).

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
            _file("/etc/crio/crio.conf.d/00-default", CRIO_DEFAULT),
            _file("/etc/kubernetes/kubelet-ca.crt",
                  "-----BEGIN CERTIFICATE-----\nSIMULATED\n-----END CERTIFICATE-----\n"),
            _file("/etc/sysctl.d/inotify.conf", "fs.inotify.max_user_watches = 65536\n"),
        ]}}, "extensions": [], "kernelArguments": [], "fips": False, "kernelType": "default", "osImageURL": ""}),
        mc(f"01-{role}-container-runtime", {"config": {"ignition": {"version": ign}, "storage": {"files": [
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


def knobs_configmap(knobs: Knobs, extra: dict[str, str] | None = None, *, workers: int = 3,
                    not_virt: tuple[str, ...] = ()) -> dict:
    """The knob store; its annotation keeps the cluster's initial shape for testing.reset."""
    data = {**knobs.to_data(), **(extra or {})}
    initial = {"topology": knobs.topology, "workers": workers, "not_virt": list(not_virt), "data": data}
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


def create_nodes(kube: Kube, topology: str, workers: int, not_virt: tuple[str, ...] | list[str] = ()) -> list[str]:
    names = []
    schedulable = topology != "standard"
    for i, (name, roles) in enumerate(node_names(topology, workers)):
        _create(kube, node_path(), build_node(name, roles, i, virt=name not in not_virt,
                                              schedulable_masters=schedulable))
        names.append(name)
    return names


def seed(api_client: client.ApiClient | Kube, settings: Any) -> None:
    """A fresh cluster: the knob ConfigMap, the base MachineConfigs, the nodes.

    `settings` is localcluster.Settings (topology, workers, not_virt,
    render_delay, node_update, extra). Idempotent.
    """
    kube = _kube(api_client)
    knobs = Knobs(render_delay=float(settings.render_delay), node_update=float(settings.node_update),
                  topology=settings.topology)
    extra = {k: str(v) for k, v in (getattr(settings, "extra", None) or {}).items()}
    _create(kube, cm_path(KNOBS_NAMESPACE), knobs_configmap(knobs, extra, workers=int(settings.workers),
                                                            not_virt=tuple(settings.not_virt)))
    for role in ("master", "worker"):
        for mc in base_machine_configs(role):
            _create(kube, mc_path(), mc)
    create_nodes(kube, settings.topology, int(settings.workers), tuple(settings.not_virt))


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
