"""Start, stop and inspect the local control plane.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real
binaries built by build.sh; each runs in its own session with its pid (and
start time, so a recycled pid is never mistaken for ours) recorded under the
cluster directory. Everything the cluster knows lives in etcd; the files under
the cluster directory are only credentials, logs and pids.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .pki import IDENTITIES, PKI, TEST_USERS

HERE = Path(__file__).resolve().parent.parent  # tests/cluster
REPO = HERE.parent.parent

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")

# Controllers a test or a demo needs: namespaces go away, service accounts and
# their tokens exist, owners are garbage-collected, workloads get pods, drains
# respect PodDisruptionBudgets. No node lifecycle controller: nodes are
# simulated and must not be tainted or evicted by it. The aggregation controller
# fills the admin/edit/view roles tests bind users to; the policy status
# controller type-checks ValidatingAdmissionPolicies as OpenShift does (from
# 4.17, where the API is served; see controllers()).
CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "replicaset-controller",
    # ReplicationControllers get pods too, as on OpenShift, where DeploymentConfigs roll out through them.
    "replicationcontroller-controller",
    "deployment-controller",
    "daemonset-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "statefulset-controller",
    "disruption-controller",
    "clusterrole-aggregation-controller",
    "pod-garbage-collector-controller",
    "validatingadmissionpolicy-status-controller",
)
VAP_STATUS_CONTROLLER = "validatingadmissionpolicy-status-controller"

ADMISSION_PLUGINS = (
    "NamespaceLifecycle", "LimitRanger", "ServiceAccount", "RuntimeClass", "DefaultTolerationSeconds",
    "ValidatingAdmissionPolicy", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota",
)
# MutatingAdmissionPolicy is beta and off by default in 1.34 (k8s.io/apiserver v0.34
# pkg/features/kube_features.go; admissionregistration.k8s.io/v1beta1 is in
# betaAPIGroupVersionsDisabledByDefault, k8s.io/kubernetes v1.34 pkg/controlplane/instance.go).
# Only its two resources are served, not the rest of v1beta1: the local cluster
# emulates OpenShift's SCC admission with it (localcluster/scc.py).
MAP_RUNTIME_CONFIG = (
    "admissionregistration.k8s.io/v1beta1/mutatingadmissionpolicies=true",
    "admissionregistration.k8s.io/v1beta1/mutatingadmissionpolicybindings=true",
)
# Below 4.17 (Kubernetes 1.27-1.29) OpenShift serves no ValidatingAdmissionPolicy
# in admissionregistration.k8s.io/v1: the gate is in the Default feature set
# from openshift/api release-4.17 features/features.go (TechPreview before).
# The rest of the group (the webhook configurations) stays served.
NO_VAP_RUNTIME_CONFIG = (
    "admissionregistration.k8s.io/v1/validatingadmissionpolicies=false",
    "admissionregistration.k8s.io/v1/validatingadmissionpolicybindings=false",
)


def apiserver_release_flags(vap_v1: bool) -> list[str]:
    """The kube-apiserver flags that differ per OpenShift release."""
    plugins = [p for p in ADMISSION_PLUGINS if vap_v1 or p != "ValidatingAdmissionPolicy"]
    runtime = MAP_RUNTIME_CONFIG + (() if vap_v1 else NO_VAP_RUNTIME_CONFIG)
    flags = [f"--enable-admission-plugins={','.join(plugins)}", f"--runtime-config={','.join(runtime)}",
             "--feature-gates=MutatingAdmissionPolicy=true"]
    if not vap_v1:
        # On by default in 1.34; without its API its informer would fail to list forever.
        flags.append("--disable-admission-plugins=ValidatingAdmissionPolicy")
    return flags


def controllers(vap_v1: bool) -> tuple[str, ...]:
    return tuple(c for c in CONTROLLERS if vap_v1 or c != VAP_STATUS_CONTROLLER)


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


# The simulated kubelets' addresses exist only in the API: kube-apiserver reaches them (pods/log) through its
# egress selector, HTTP CONNECT over a unix socket the simulator listens on (sim/kubelet_api.py). The path is
# relative, both processes running in the cluster directory, because a unix socket's path is limited to 107 bytes.
EGRESS_SOCKET = "kubelet-egress.sock"
EGRESS_SELECTOR = {
    "apiVersion": "apiserver.k8s.io/v1beta1",
    "kind": "EgressSelectorConfiguration",
    "egressSelections": [{"name": "cluster", "connection": {
        "proxyProtocol": "HTTPConnect", "transport": {"uds": {"udsName": EGRESS_SOCKET}}}}],
}


class ClusterError(RuntimeError):
    """A failure with a message fit for the user."""


def default_dir() -> Path:
    return Path(os.environ.get("SANDBOXED_CONTAINERS_CLUSTER_DIR") or REPO / ".cluster").resolve()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As Go's listeners do, so a port in TIME_WAIT after a stop counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces; fields after it are fixed.
    return stat.rsplit(")", 1)[1].split()[19]


# The releases the local cluster can pretend to be. The release table itself
# (what differs per release) is the simulator's, sim/releases.py; this list
# only lets Settings be parsed without importing it.
SUPPORTED_VERSIONS = ("4.14", "4.15", "4.16", "4.17", "4.18", "4.19", "4.20", "4.21")
DEFAULT_VERSION = "4.21"
TOPOLOGIES = ("standard", "compact", "sno")
ARCHES = ("amd64", "arm64", "ppc64le", "s390x")
MACHINE_CONFIG_PRESETS = ("ipsec", "osc-leftover")
OSES = ("rhcos", "scos", "fcos")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def release(version: str) -> Any:
    """The simulator's release profile of `version` (sim.releases.Release)."""
    try:
        from sim import releases  # beside this package; imported late, it is the simulator's
    except ImportError as e:
        raise ClusterError(f"the release table tests/cluster/sim/releases.py cannot be imported: {e}") from None
    try:
        return releases.release(version)
    except ValueError as e:
        raise ClusterError(str(e)) from None


def supported_versions() -> tuple[str, ...]:
    try:
        from sim import releases
    except ImportError:
        return SUPPORTED_VERSIONS
    return tuple(releases.SUPPORTED)


def _names(raw: str) -> tuple[str, ...]:
    return tuple(n for n in raw.replace(",", " ").split() if n)


@dataclass
class Settings:
    """Knobs of a new cluster, from the environment (see README); kept in state.json."""

    topology: str = "standard"
    workers: int | None = None  # None: the topology's default (3 standard, 0 compact and sno)
    not_virt: tuple[str, ...] = ()
    render_delay: float = 5.0
    node_update: float = 3.0
    extra: dict[str, str] = field(default_factory=dict)
    openshift_version: str = DEFAULT_VERSION
    masters_schedulable: bool = False  # compact and sno: always True
    infra: int = 0
    arch: dict[str, str] = field(default_factory=dict)
    no_nfd: tuple[str, ...] = ()
    machine_configs: tuple[str, ...] = ()
    os: str = "rhcos"
    manifests_dir: str = ""  # day-0 manifests created before the first node (localcluster/manifests.py)

    def __post_init__(self) -> None:
        m = re.fullmatch(r"(\d+\.\d+)\.\d+", str(self.openshift_version))
        if m:  # "4.16.3" is a 4.16 cluster
            self.openshift_version = m.group(1)
        if self.workers is None:
            self.workers = 3 if self.topology == "standard" else 0
        if self.topology in ("compact", "sno"):
            self.masters_schedulable = True

    @property
    def release(self) -> Any:
        return release(self.openshift_version)

    def node_names(self) -> list[str]:
        """The nodes a new cluster of these settings has (names as the simulator gives them)."""
        masters = 1 if self.topology == "sno" else 3
        return ([f"master-{i}" for i in range(masters)] + [f"worker-{i}" for i in range(self.workers or 0)]
                + [f"infra-{i}" for i in range(self.infra)])

    def to_state(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_state(cls, data: dict[str, Any] | None) -> Settings:
        """The settings a cluster was created with (older state files lack the newer knobs)."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in (data or {}).items() if k in known}
        for k in ("not_virt", "no_nfd", "machine_configs"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        def bad(name: str, value: str, accepted: str) -> ClusterError:
            return ClusterError(f"{name}={value} is not supported; use {accepted}")

        version = get("CLUSTER_OPENSHIFT_VERSION") or DEFAULT_VERSION
        m = re.fullmatch(r"(\d+\.\d+)(\.\d+)?", version)
        if not m or m.group(1) not in supported_versions():
            raise bad("CLUSTER_OPENSHIFT_VERSION", version, "one of " + ", ".join(supported_versions()))
        topology = get("CLUSTER_TOPOLOGY") or "standard"
        if topology not in TOPOLOGIES:
            raise bad("CLUSTER_TOPOLOGY", topology, "standard, compact or sno")

        def count(name: str, default: int) -> int:
            raw = get(name)
            if not raw:
                return default
            if not raw.isdigit():
                raise bad(name, raw, "a number, 0 or more")
            return int(raw)

        def seconds(name: str, default: float) -> float:
            raw = get(name)
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise bad(name, raw, "a number of seconds") from None
            if math.isnan(value) or value < 0:
                raise bad(name, raw, "a number of seconds, 0 or more")
            return value

        s = cls(topology=topology, openshift_version=m.group(1),
                workers=count("CLUSTER_WORKERS", 3 if topology == "standard" else 0),
                infra=count("CLUSTER_INFRA_NODES", 0),
                render_delay=seconds("SIM_RENDER_DELAY_SECONDS", 5.0),
                node_update=seconds("SIM_NODE_UPDATE_SECONDS", 3.0))

        raw = get("CLUSTER_MASTERS_SCHEDULABLE").lower()
        if raw and raw not in _TRUE + _FALSE:
            raise bad("CLUSTER_MASTERS_SCHEDULABLE", raw, "true or false")
        if raw in _TRUE:
            s.masters_schedulable = True
        elif raw in _FALSE and topology != "standard":
            raise ClusterError(f"CLUSTER_MASTERS_SCHEDULABLE={raw} is not supported with CLUSTER_TOPOLOGY={topology}, "
                               "whose masters are always schedulable; use true, or leave it unset")

        nodes = s.node_names()

        def node_list(name: str, *, allow_all: bool = False) -> tuple[str, ...]:
            names = _names(get(name))
            if allow_all and "all" in names:
                if names != ("all",):
                    raise bad(name, get(name), "all alone, or names of this cluster's nodes")
                return names
            unknown = [n for n in names if n not in nodes]
            if unknown:
                accepted = ", ".join(nodes) + (", or all" if allow_all else "")
                raise bad(name, ",".join(unknown), f"names of this cluster's nodes: {accepted}")
            return names

        s.not_virt = node_list("CLUSTER_NOT_VIRT_NODES")
        s.no_nfd = node_list("CLUSTER_NO_NFD_NODES", allow_all=True)

        for item in _names(get("CLUSTER_NODE_ARCH")):
            node, _eq, arch = item.partition("=")
            if not _eq or not node or arch not in ARCHES:
                raise bad("CLUSTER_NODE_ARCH", item, "node=arch pairs, arch one of " + ", ".join(ARCHES))
            if node not in nodes:
                raise bad("CLUSTER_NODE_ARCH", item, "names of this cluster's nodes: " + ", ".join(nodes))
            s.arch[node] = arch

        s.machine_configs = _names(get("CLUSTER_MACHINECONFIGS"))
        for preset in s.machine_configs:
            if preset not in MACHINE_CONFIG_PRESETS:
                raise bad("CLUSTER_MACHINECONFIGS", preset, "a list of " + ", ".join(MACHINE_CONFIG_PRESETS))
        if "ipsec" in s.machine_configs and not s.release.ipsec_extension_mcs:
            # The network operator ships 80-ipsec-*-extensions from release-4.15 on (sim/README.md).
            # The same words as the simulator's own check (sim/topology.py), which runs later.
            raise ClusterError("CLUSTER_MACHINECONFIGS=ipsec needs OpenShift 4.15 or later: the network operator "
                               "creates 80-ipsec-master-extensions and 80-ipsec-worker-extensions from release-4.15 "
                               f"(this cluster is {s.openshift_version})")

        s.os = get("CLUSTER_OS") or "rhcos"
        if s.os not in OSES:
            raise bad("CLUSTER_OS", s.os, "one of " + ", ".join(OSES))

        raw = get("CLUSTER_MANIFESTS_DIR")
        if raw:
            from . import manifests

            d = Path(raw).expanduser().resolve()
            manifests.load(d)  # a bad file fails here, before anything starts
            s.manifests_dir = str(d)
        return s


class LocalCluster:
    """One local cluster, identified by its directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = (directory or default_dir()).resolve()
        self.pki = PKI(self.dir / "pki")
        self.logs = self.dir / "logs"
        self.state_file = self.dir / "state.json"

    # -- paths and state -------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def user_kubeconfig(self, user: str) -> Path:
        return self.dir / "users" / f"{user}.kubeconfig"

    def component_kubeconfig(self, user: str) -> Path:
        return self.pki.dir / "kubeconfigs" / f"{user.replace(':', '-')}.kubeconfig"

    def pid_file(self, component: str) -> Path:
        return self.dir / f"{component}.pid"

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        tmp.replace(self.state_file)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.state()['ports']['kube-apiserver']}"

    @contextlib.contextmanager
    def _lock(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- processes -------------------------------------------------------

    def pid(self, component: str) -> int | None:
        """The pid of a running component we started, or None (a stale file is removed)."""
        f = self.pid_file(component)
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            return None
        pid = rec.get("pid")
        if isinstance(pid, int) and _start_ticks(pid) == rec.get("start"):
            return pid
        f.unlink(missing_ok=True)  # stale: the process is gone or the pid was reused
        return None

    def running(self) -> dict[str, int | None]:
        return {c: self.pid(c) for c in self.components()}

    def components(self) -> tuple[str, ...]:
        return COMPONENTS + (("simulator",) if self._sim_available() else ())

    @staticmethod
    def _sim_available() -> bool:
        return (HERE / "sim" / "__main__.py").exists()

    def _spawn(self, component: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{component}.log", "ab") as log:
            log.write(f"\n---- started {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=env, cwd=self.dir,
            )
        # Popen keeps no reference that would reap it later; the process is
        # adopted by init if we exit first, and stop() reaps it if we do not.
        self._children = getattr(self, "_children", {})
        self._children[proc.pid] = proc
        self.pid_file(component).write_text(
            json.dumps({"pid": proc.pid, "start": _start_ticks(proc.pid)})
        )
        return proc.pid

    def stop(self, component: str, timeout: float = 15.0) -> bool:
        """Stops one component by its recorded pid; True if it was running."""
        pid = self.pid(component)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.05)
        if self._alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        self.pid_file(component).unlink(missing_ok=True)
        return True

    def _alive(self, pid: int) -> bool:
        child = getattr(self, "_children", {}).get(pid)
        if child is not None:
            return child.poll() is None
        st = Path(f"/proc/{pid}/stat")
        try:
            return st.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def _exited_early(self, component: str) -> ClusterError:
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join((self.logs / f"{component}.log").read_text().splitlines()[-15:])
        return ClusterError(
            f"{component} exited during start; last lines of {self.logs / (component + '.log')}:\n{tail}"
        )

    # -- commands --------------------------------------------------------

    def settings(self, state: dict | None = None) -> Settings:
        """The settings the cluster was created with (state.json), so restarts keep them."""
        return Settings.from_state((state if state is not None else self.state()).get("settings"))

    def _argv(self, component: str, bins: Path, state: dict) -> list[str]:
        p = state["ports"]
        pki = self.pki
        vap_v1 = True
        if component in ("kube-apiserver", "kube-controller-manager"):
            vap_v1 = bool(self.settings(state).release.vap_v1)
        if component == "etcd":
            return [
                str(bins / "etcd"), "--name=local", f"--data-dir={state['etcd_data_dir']}",
                f"--listen-client-urls=http://127.0.0.1:{p['etcd']}",
                f"--advertise-client-urls=http://127.0.0.1:{p['etcd']}",
                f"--listen-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
                f"--initial-cluster=local=http://127.0.0.1:{p['etcd-peer']}",
                "--unsafe-no-fsync", "--log-level=warn", "--quota-backend-bytes=4294967296",
            ]
        if component == "kube-apiserver":
            return [
                str(bins / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                f"--secure-port={p['kube-apiserver']}",
                f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}", f"--token-auth-file={pki.tokens_csv}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=RBAC", "--allow-privileged=true",
                *apiserver_release_flags(vap_v1),
                f"--audit-policy-file={self.dir / 'audit-policy.yaml'}",
                f"--audit-log-path={self.logs / 'audit.log'}", "--audit-log-format=json",
                f"--egress-selector-config-file={self.dir / 'egress-selector.yaml'}",
                "--enable-priority-and-fairness=false", "--profiling=false",
                f"--cert-dir={self.dir / 'apiserver-certs'}",
                "--endpoint-reconciler-type=none",
            ]
        if component == "kube-controller-manager":
            kc = self.component_kubeconfig("system:kube-controller-manager")
            return [
                str(bins / "kube-controller-manager"), f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
                "--authentication-skip-lookup=true",
                "--bind-address=127.0.0.1", f"--secure-port={p['kube-controller-manager']}",
                f"--cert-dir={self.dir / 'kcm-certs'}",
                f"--controllers={','.join(controllers(vap_v1))}",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}", "--use-service-account-credentials=true",
                "--leader-elect=false", "--concurrent-gc-syncs=5",
            ]
        if component == "kube-scheduler":
            kc = self.component_kubeconfig("system:kube-scheduler")
            return [
                str(bins / "kube-scheduler"), f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
                "--authentication-skip-lookup=true",
                "--bind-address=127.0.0.1", f"--secure-port={p['kube-scheduler']}",
                f"--cert-dir={self.dir / 'scheduler-certs'}", "--leader-elect=false",
            ]
        if component == "simulator":
            kc = self.component_kubeconfig("system:sim:machine-config-operator")
            return [sys.executable, "-m", "sim", "run", f"--kubeconfig={kc}",
                    f"--ready-file={self.dir / 'simulator.ready'}", f"--egress-socket={EGRESS_SOCKET}"]
        raise ClusterError(f"unknown component {component!r}; one of {', '.join(self.components())}")

    def _env(self, component: str) -> dict[str, str]:
        env = dict(os.environ)
        if component == "simulator":
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
            env["PYTHONUNBUFFERED"] = "1"
        return env

    def _ready(self, component: str, state: dict) -> bool:
        p = state["ports"]
        try:
            if component == "etcd":
                with urllib.request.urlopen(f"http://127.0.0.1:{p['etcd']}/health", timeout=2) as r:
                    return json.loads(r.read()).get("health") == "true"
            if component == "kube-apiserver":
                ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
                url = f"https://127.0.0.1:{p['kube-apiserver']}/readyz"
                with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                    return r.status == 200
            if component in ("kube-controller-manager", "kube-scheduler"):
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE  # self-signed serving cert of the component
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{p[component]}/healthz", timeout=2, context=ctx
                ) as r:
                    return r.status == 200
            if component == "simulator":
                return (self.dir / "simulator.ready").exists()
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return False

    def _start(self, component: str, bins: Path, state: dict, timeout: float = 90.0) -> None:
        if component == "simulator":
            (self.dir / "simulator.ready").unlink(missing_ok=True)
        if component == "kube-apiserver":  # also when restarting a cluster made before the file existed
            (self.dir / "egress-selector.yaml").write_text(yaml.safe_dump(EGRESS_SELECTOR))
        pid = self._spawn(component, self._argv(component, bins, state), self._env(component))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                self.pid_file(component).unlink(missing_ok=True)
                raise self._exited_early(component)
            if self._ready(component, state):
                return
            time.sleep(0.1)
        self.stop(component)
        raise ClusterError(f"{component} was not ready after {timeout:.0f} s; see {self.logs}")

    def restart(self, component: str) -> None:
        """Restarts one component on the same ports while the others keep running."""
        if component not in self.components():
            raise ClusterError(f"unknown component {component!r}; one of {', '.join(self.components())}")
        with self._lock():
            state = self.state()
            if not state:
                raise ClusterError(f"no cluster at {self.dir}; run make cluster-up")
            self.stop(component)
            port = state["ports"].get(component)
            if port and not port_free(port):
                raise ClusterError(f"port {port} of {component} is taken by another process")
            self._start(component, Path(state["bin_dir"]), state)

    def build(self) -> Path:
        """Builds (or finds in the cache) the binaries; returns their directory."""
        proc = subprocess.run(
            ["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, check=False,
        )
        if proc.returncode != 0:
            raise ClusterError("building the control plane failed (the reason is printed above)")
        return Path(proc.stdout.strip().splitlines()[-1])

    def up(self, settings: Settings | None = None, *, quiet: bool = False) -> bool:
        """Starts what is not running; returns False if everything already ran."""
        say = (lambda *_: None) if quiet else (lambda m: print(m, file=sys.stderr, flush=True))
        settings = settings or Settings.from_env()
        release(settings.openshift_version)  # an unknown version fails here, before anything starts
        with self._lock():
            running = self.running()
            state = self.state()
            if state and all(running.values()) and self._ready("kube-apiserver", state):
                say(f"the local cluster is already running at {self.server} (state in {self.dir})")
                return False
            t0 = time.monotonic()
            bins = self.build()
            from . import openshift_api

            openshift_api.crd_files()  # downloaded once, before anything starts
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
            self.pki.create()
            (self.dir / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
            fresh = not running.get("etcd")
            if fresh:
                # Without etcd nothing the others hold is worth keeping.
                for c in reversed(self.components()):
                    self.stop(c)
                self._remove_data_dir(state)
                state = {
                    "etcd_data_dir": tempfile.mkdtemp(
                        prefix="sandboxed-containers-etcd-",
                        dir="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    ),
                    "ports": {},
                    "settings": settings.to_state(),
                }
            else:
                settings = self.settings(state)  # etcd kept the cluster: it keeps its settings
            state["bin_dir"] = str(bins)
            old_api_port = state["ports"].get("kube-apiserver")
            for c in self.components():
                if running.get(c) and not fresh:
                    continue
                for key in ([c, "etcd-peer"] if c == "etcd" else [c]):
                    if key == "simulator":
                        continue
                    if not state["ports"].get(key) or not port_free(state["ports"][key]):
                        state["ports"][key] = free_port()  # taken by someone else: pick another
            if old_api_port and state["ports"]["kube-apiserver"] != old_api_port:
                # The clients' kubeconfigs name the old port: restart them with the new ones.
                for c in self.components()[2:]:
                    self.stop(c)
            self._save_state(state)
            self._write_kubeconfigs()
            from .bootstrap import bootstrap  # needs the kubernetes client

            for c in self.components():
                if self.pid(c) is None:
                    say(f"starting {c}")
                    self._start(c, bins, state)
                if c == "kube-apiserver":
                    bootstrap(self, settings, say, seed=fresh)
            if fresh and self._sim_available():
                from .bootstrap import wait_settled

                wait_settled(self)
            say(f"the local cluster is ready at {self.server} in {time.monotonic() - t0:.1f} s")
            return True

    def _remove_data_dir(self, state: dict) -> None:
        d = state.get("etcd_data_dir")
        if d and Path(d).name.startswith("sandboxed-containers-etcd-"):
            shutil.rmtree(d, ignore_errors=True)

    def down(self) -> list[str]:
        """Stops every component we started; returns the ones that were running."""
        with self._lock():
            stopped = [c for c in reversed(self.components()) if self.stop(c)]
            self._remove_data_dir(self.state())
            self.state_file.unlink(missing_ok=True)
            return stopped

    # -- credentials -----------------------------------------------------

    def _kubeconfig_for(self, user: str) -> dict:
        ident = next(i for i in IDENTITIES if i.name == user)
        cred: dict[str, str]
        if ident.auth == "token":
            cred = {"token": self.pki.token(user)}
        else:
            cred = {
                "client-certificate-data": base64.b64encode(
                    self.pki.client_cert(user).read_bytes()).decode(),
                "client-key-data": base64.b64encode(self.pki.client_key(user).read_bytes()).decode(),
            }
        name = "local"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.server,
                "certificate-authority-data": base64.b64encode(self.pki.ca_cert.read_bytes()).decode(),
            }}],
            "users": [{"name": user, "user": cred}],
            "contexts": [{"name": f"{user}@{name}", "context": {"cluster": name, "user": user}}],
            "current-context": f"{user}@{name}",
        }

    def _write_kubeconfig(self, path: Path, user: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = yaml.safe_dump(self._kubeconfig_for(user)).encode()
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        path.with_suffix(".tmp").replace(path)

    def _write_kubeconfigs(self) -> None:
        self._write_kubeconfig(self.kubeconfig, "admin")
        for user in TEST_USERS:
            self._write_kubeconfig(self.user_kubeconfig(user), user)
        for ident in IDENTITIES:
            if ident.name.startswith("system:"):
                self._write_kubeconfig(self.component_kubeconfig(ident.name), ident.name)
