"""The fleet playbook on two local clusters side by side: one inventory host per cluster with its own
credentials, a canary batch first, and a failing cluster that stops the fleet or is tolerated as documented in
docs/pipelines.md. Cluster a is the session's; cluster b is started here, and made to fail by a node that the
Machine Config Daemon reports Degraded, so its worker pool is degraded and preflight refuses it."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from localcluster import LocalCluster, Settings
from sim import testing as st
from support import FAST, MC_NAME, REPO, snapshot

VENV_BIN = Path(sys.executable).parent
FAULT = "simulated disk failure"
AUTOMATION = [{"kind": "User", "name": "automation"}]


@dataclass
class Run:
    rc: int
    output: str
    recap: dict[str, dict[str, int]]
    reports: dict[str, dict]

    @property
    def text(self) -> str:
        return " ".join(self.output.split())

    def __repr__(self) -> str:  # shown by pytest when an assertion on a run fails
        return f"rc={self.rc}\n{self.output[-6000:]}"


def recaps(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP line of every host that ran."""
    tail = stdout.split("PLAY RECAP", 1)[-1]
    return {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^(\S+)\s*:\s*(ok=.*)$", tail, re.M)}


class Fleet:
    """Writes an inventory of both clusters, in a given order, and runs playbooks/fleet.yml on it."""

    def __init__(self, ansible, a: Path, b: LocalCluster, tmp: Path) -> None:
        self.ansible = ansible
        self.tmp = tmp
        self.runs = 0
        kc = yaml.safe_load(b.user_kubeconfig("automation").read_text())
        ca = tmp / "cluster-b-ca.crt"
        ca.write_bytes(base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]))
        # Either way of giving a cluster's credentials: a kubeconfig, or an API URL with a bearer token and CA.
        self.hosts = {
            "cluster-a": {"sandboxed_containers_kubeconfig": str(a)},
            "cluster-b": {"sandboxed_containers_api_host": kc["clusters"][0]["cluster"]["server"],
                          "sandboxed_containers_api_key": kc["users"][0]["user"]["token"],
                          "sandboxed_containers_ca_cert": str(ca)},
        }

    def run(self, order: list[str], **extra_vars: object) -> Run:
        self.runs += 1
        reports = self.tmp / f"reports-{self.runs}"
        reports.mkdir()
        inventory = self.tmp / f"clusters-{self.runs}.yml"
        inventory.write_text(yaml.safe_dump({"all": {
            "hosts": {name: self.hosts[name] for name in order},
            "vars": {"sandboxed_containers_report_path": f"{reports}/{{{{ inventory_hostname }}}}.json"}}},
            sort_keys=False))
        argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "fleet.yml"),
                "-e", json.dumps(extra_vars)]
        env = {k: v for k, v in self.ansible.env().items() if not k.startswith("K8S_AUTH_")}
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, cwd=REPO, check=False)
        return Run(proc.returncode, proc.stdout + proc.stderr, recaps(proc.stdout),
                   {p.stem: json.loads(p.read_text()) for p in reports.glob("*.json")})


@pytest.fixture(scope="module")
def cluster_b(tmp_path_factory) -> Iterator[LocalCluster]:
    lc = LocalCluster(tmp_path_factory.mktemp("fleet") / "cluster-b")
    lc.up(Settings(workers=2, **FAST), quiet=True)
    try:
        yield lc
    finally:
        lc.down()


@pytest.fixture(scope="module")
def fleet(cluster, ansible, cluster_b, tmp_path_factory) -> Fleet:
    """The automation user of each cluster bound to the least-privilege ClusterRole: its credentials are the
    fleet's. Nothing of the session's kubeconfig reaches the fleet run."""
    subjects = {"sandboxed_containers_automation_subjects": AUTOMATION}
    assert ansible.run("automation_access", extra_vars=subjects).rc == 0
    r = ansible.run("automation_access", extra_vars=subjects, env={"K8S_AUTH_KUBECONFIG": str(cluster_b.kubeconfig)})
    assert r.rc == 0, r
    for kubeconfig in (cluster.users["automation"], cluster_b.user_kubeconfig("automation")):
        auto = st.kube(config.new_client_from_config(config_file=str(kubeconfig)))
        st.wait_for(lambda auto=auto: _can_list_pools(auto), 30, what="the binding to take effect")
    return Fleet(ansible, cluster.users["automation"], cluster_b, tmp_path_factory.mktemp("fleet-runs"))


def _can_list_pools(kube) -> bool:
    try:
        kube.get("/apis/machineconfiguration.openshift.io/v1/machineconfigpools")
        return True
    except Exception:
        return False


@pytest.fixture
def both(cluster, cluster_b):
    """Both clusters fresh, cluster b's worker-0 Degraded (its worker pool too)."""
    a, b = cluster.api(), config.new_client_from_config(config_file=str(cluster_b.kubeconfig))
    for api, workers in ((a, 3), (b, 2)):
        node_api = client.NodeV1Api(api)
        for rc in node_api.list_runtime_class().items:
            node_api.delete_runtime_class(rc.metadata.name)
        st.reset(api, topology="standard", workers=workers, **FAST)
    st.set_fault(b, "worker-0", FAULT)
    st.wait_for(lambda: (st.condition(st.pool(b, "worker"), "Degraded") or {}).get("status") == "True", 30,
                what="cluster b's worker pool to be Degraded")
    yield a, b
    st.clear_fault(b, "worker-0")


def _has_mc(api) -> bool:
    return any(mc["metadata"]["name"] == MC_NAME
               for mc in st.kube(api).get("/apis/machineconfiguration.openshift.io/v1/machineconfigs")["items"])


def _install_play(run: Run) -> str:
    """The output of the install play, after the fleet's checks."""
    return run.output.split("PLAY [Install sandboxed containers on a fleet", 1)[1]


def _refused(run: Run) -> bool:
    """Cluster b's preflight refused it, naming the node, the daemon's reason and that nothing changed."""
    return ("pool worker is NodeDegraded" in run.text and f'worker-0 is reporting: "{FAULT}"' in run.text
            and "Nothing was changed." in run.text)


def test_a_failed_canary_stops_the_fleet_before_the_next_batch(fleet, both):
    a, b = both
    before = snapshot(a)
    r = fleet.run(["cluster-b", "cluster-a"])  # default batches [1, "25%"]: cluster b alone is the canary
    assert r.rc == 2, r
    assert r.recap["cluster-b"]["failed"] == 1, r
    assert _refused(r), r
    # Cluster a was only identified (the check that every host is a cluster of its own), never installed.
    assert r.recap["cluster-a"]["changed"] == 0, r
    assert "[cluster-a]" not in _install_play(r), "a batch after a failed canary must not start"
    assert snapshot(a) == before
    assert not _has_mc(b)
    assert r.reports == {}


def test_a_failure_stops_the_rest_of_its_batch_at_the_next_task(fleet, both):
    a, b = both
    before = snapshot(a)
    # One batch of both clusters, no failure tolerated: cluster b fails its preflight, so cluster a, which
    # passed the same task, stops there too, before changing anything.
    r = fleet.run(["cluster-a", "cluster-b"], sandboxed_containers_fleet_batches=[2])
    assert r.rc == 2, r
    assert r.recap["cluster-b"]["failed"] == 1, r
    assert r.recap["cluster-a"]["failed"] == 0 and r.recap["cluster-a"]["changed"] == 0, r
    assert _refused(r), r
    assert snapshot(a) == before
    assert not _has_mc(b)
    assert r.reports == {}


def test_a_tolerated_failure_lets_the_others_finish_and_a_rerun_completes_the_fleet(fleet, both):
    a, b = both
    # 50%: one failed cluster of two is tolerated, so cluster a finishes its install in the same batch.
    r = fleet.run(["cluster-a", "cluster-b"], sandboxed_containers_fleet_batches=[2],
                  sandboxed_containers_fleet_max_fail_percentage=50)
    assert r.rc == 2, r  # a failed cluster still fails the run
    assert r.recap["cluster-a"]["failed"] == 0 and r.recap["cluster-b"]["failed"] == 1, r
    assert _refused(r), r
    assert set(r.reports) == {"cluster-a"}
    assert r.reports["cluster-a"]["installed"] is True
    assert r.reports["cluster-a"]["cluster"] == "cluster-a"
    assert st.reboots(a) == {"master-0": 0, "master-1": 0, "master-2": 0, "worker-0": 1, "worker-1": 1,
                             "worker-2": 1}
    assert not _has_mc(b)

    # Fixed, the same fleet run again: the canary (cluster a) changes nothing, cluster b is installed.
    st.clear_fault(b, "worker-0")
    st.wait_for(lambda: (st.condition(st.pool(b, "worker"), "Degraded") or {}).get("status") == "False", 60,
                what="cluster b's worker pool to recover")
    r = fleet.run(["cluster-a", "cluster-b"])
    assert r.rc == 0, r
    assert r.recap["cluster-a"]["changed"] == 0, r
    assert r.recap["cluster-b"]["failed"] == 0, r
    assert {name: rep["installed"] for name, rep in r.reports.items()} == {"cluster-a": True, "cluster-b": True}
    assert r.reports["cluster-b"]["api_host"] == fleet.hosts["cluster-b"]["sandboxed_containers_api_host"]
    assert st.reboots(a)["worker-0"] == 1
    assert st.reboots(b) == {"master-0": 0, "master-1": 0, "master-2": 0, "worker-0": 1, "worker-1": 1}


def test_an_inventory_without_clusters_is_refused(ansible, tmp_path):
    """An inventory that does not parse leaves only the implicit localhost; the fleet must not pass as done."""
    broken = tmp_path / "clusters.yml"
    broken.write_text("all:\n  hosts:\n    cluster-a: [\n")
    env = {k: v for k, v in ansible.env().items() if not k.startswith("K8S_AUTH_")}
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(broken), str(REPO / "playbooks" / "fleet.yml")]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
    text = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, text[-3000:]
    assert "No cluster in the inventory matches all" in text


def test_two_hosts_that_are_one_cluster_are_refused_before_any_change(cluster, ansible, fresh, tmp_path):
    """Hosts whose credentials resolve to the same cluster would change it twice: refused, naming both hosts,
    before any change. The same cluster by its ClusterVersion's clusterID (here through another name of the API
    server), or by its API server URL when the ClusterVersion cannot be read (the developer cannot)."""
    api = fresh
    before = snapshot(api)
    admin = yaml.safe_load(cluster.users["admin"].read_text())
    server = admin["clusters"][0]["cluster"]["server"]
    by_name = tmp_path / "admin-by-name.kubeconfig"
    admin["clusters"][0]["cluster"]["server"] = server.replace("127.0.0.1", "localhost")
    by_name.write_text(yaml.safe_dump(admin))
    by_name.chmod(0o600)
    dev = yaml.safe_load(cluster.users["developer"].read_text())
    hosts = {
        "prod-east": {"sandboxed_containers_kubeconfig": str(cluster.users["admin"])},
        "prod-west": {"sandboxed_containers_kubeconfig": str(by_name)},
        "staging": {"sandboxed_containers_api_host": server + "/",
                    "sandboxed_containers_api_key": dev["users"][0]["user"]["token"],
                    "sandboxed_containers_ca_cert": str(cluster.local.pki.ca_cert)},
    }
    inventory = tmp_path / "clusters.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "fleet.yml")]
    env = {k: v for k, v in ansible.env().items() if not k.startswith("K8S_AUTH_")}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
    text = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, text[-3000:]
    cid = st.kube(api).get("/apis/config.openshift.io/v1/clusterversions/version")["spec"]["clusterID"]
    assert f"prod-east and prod-west are the same cluster (cluster ID {cid})" in text, text[-3000:]
    assert f"prod-east and staging are the same cluster (API server {server})" in text, text[-3000:]
    assert "Nothing was changed" in text
    assert "PLAY [Install sandboxed containers on a fleet" not in proc.stdout  # no host got that far
    assert dev["users"][0]["user"]["token"] not in text
    assert snapshot(api) == before
    assert not _has_mc(api)
