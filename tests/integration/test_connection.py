"""Which cluster, and as whom (issue 12 item 10): the connection is taken whole from one source, the play's
variables when any is set, else the K8S_AUTH_* environment, else the default kubeconfig; never mixed.

Two identities of the one local cluster stand for two clusters: the environment names the developer (no rights),
the play names the admin. The API server's audit log says who made each request of a run, and whether it was
impersonated, so a run that mixed the two shows there. Also: the cluster's identity printed first and recorded in
the report, and the report's own secrets (item 7: the file 0600, the pods' names not published by default).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import yaml
from kubernetes import client

from sim import testing as st
from support import REPO, new_namespace, snapshot

VENV_BIN = Path(sys.executable).parent
CLIENT = "OpenAPI-Generator/"  # the kubernetes Python client's user agent: the run's own requests


def audit_lines(cluster) -> int:
    return len((cluster.dir / "logs" / "audit.log").read_text().splitlines())


def run_requests(cluster, start: int) -> list[tuple[str, str | None, str, str]]:
    """(user, impersonated user, verb, resource) of every request the collection's client made since `start`."""
    out = []
    for line in (cluster.dir / "logs" / "audit.log").read_text().splitlines()[start:]:
        e = json.loads(line)
        if e["stage"] != "ResponseComplete" or not e.get("userAgent", "").startswith(CLIENT):
            continue
        out.append((e["user"]["username"], (e.get("impersonatedUser") or {}).get("username"), e["verb"],
                    (e.get("objectRef") or {}).get("resource", e["requestURI"])))
    return out


def kubeconfig_of(cluster, user: str) -> dict:
    return yaml.safe_load(cluster.users[user].read_text())


def cluster_id(api) -> str:
    return st.kube(api).get("/apis/config.openshift.io/v1/clusterversions/version")["spec"]["clusterID"]


def mark(cluster) -> int:
    """The audit log's line count once the test's own requests so far are written (after their responses)."""
    time.sleep(0.5)
    return audit_lines(cluster)


def test_a_play_kubeconfig_with_another_clusters_credential_in_the_environment_is_refused(
        cluster, ansible, fresh):
    """The reported case: AWX's credential (host and token of "cluster A", here the developer) in the environment,
    and -e sandboxed_containers_kubeconfig=<cluster B's> (here the admin's). kubernetes.core would skip the
    kubeconfig and talk to A with A's token; the run must refuse before any request, naming the variables."""
    api = fresh
    before = snapshot(api)
    dev = kubeconfig_of(cluster, "developer")
    token = dev["users"][0]["user"]["token"]
    env = {"K8S_AUTH_KUBECONFIG": "", "K8S_AUTH_HOST": dev["clusters"][0]["cluster"]["server"],
           "K8S_AUTH_API_KEY": token, "K8S_AUTH_SSL_CA_CERT": str(cluster.local.pki.ca_cert),
           "K8S_AUTH_VERIFY_SSL": "True"}
    start = mark(cluster)
    for playbook in ("status", "install", "automation_access"):
        r = ansible.run(playbook, env=env, extra_vars={"sandboxed_containers_kubeconfig": str(cluster.users["admin"])})
        assert r.rc != 0, r
        assert ("the play's variables name the cluster (sandboxed_containers_kubeconfig), and the environment also "
                "sets K8S_AUTH_API_KEY, K8S_AUTH_HOST, K8S_AUTH_SSL_CA_CERT, K8S_AUTH_VERIFY_SSL"
                ) in r.text.replace("''", "'"), r
        assert "Nothing was changed" in r.text, r
        assert token not in r.output
    assert run_requests(cluster, start) == [], "a refused run must not reach the cluster as anyone"
    assert snapshot(api) == before


def test_the_plays_kubeconfig_is_used_whole_whatever_the_environment_adds(cluster, ansible, fresh):
    """The environment names the developer's kubeconfig and impersonates the developer; the play names the
    admin's kubeconfig. Every request of the run, by the collection's modules, by the controller-side wait and by
    kubernetes.core's modules, is the admin's own, never impersonated."""
    env = {"K8S_AUTH_KUBECONFIG": str(cluster.users["developer"]), "K8S_AUTH_IMPERSONATE_USER": "developer",
           "K8S_AUTH_IMPERSONATE_GROUPS": "kata-users"}
    play = {"sandboxed_containers_kubeconfig": str(cluster.users["admin"])}
    server = kubeconfig_of(cluster, "admin")["clusters"][0]["cluster"]["server"]
    ident = cluster_id(fresh)
    start = mark(cluster)
    r = ansible.run("status", env=env, extra_vars=play)
    assert r.rc == 0, r
    # The first lines of the run say which cluster, and where the connection comes from.
    shown = r.text.replace("''", "'")  # the yaml callback doubles quotes in single-quoted strings
    assert f"Cluster {server}, cluster ID {ident}, OpenShift " in shown, r
    assert ("connection from the play's variables (sandboxed_containers_kubeconfig); ignored from the environment: "
            "K8S_AUTH_IMPERSONATE_GROUPS, K8S_AUTH_IMPERSONATE_USER, K8S_AUTH_KUBECONFIG") in shown, r
    assert (r.report["api_host"], r.report["cluster_id"]) == (server, ident)
    assert r.report["connection"] == {
        "source": "options", "given_by": ["sandboxed_containers_kubeconfig"],
        "ignored": ["K8S_AUTH_IMPERSONATE_GROUPS", "K8S_AUTH_IMPERSONATE_USER", "K8S_AUTH_KUBECONFIG"]}
    # kubernetes.core's own modules (the automation_access role) take the same connection.
    r = ansible.run("automation_access", env=env, extra_vars=play)
    assert r.rc == 0, r
    # The wait runs on the controller, in ansible-playbook's own environment.
    argv = [str(VENV_BIN / "ansible"), "localhost", "-m", "sandboxed.containers.pool_wait", "-a",
            json.dumps({"pools": ["worker"], "timeout": 60, "kubeconfig": str(cluster.users["admin"])})]
    proc = subprocess.run(argv, env={**ansible.env(), **env}, capture_output=True, text=True, timeout=120, cwd=REPO,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    requests = run_requests(cluster, start)
    assert {(user, imp) for user, imp, _verb, _res in requests} == {("admin", None)}, sorted(set(requests))
    assert {res for _u, _i, _v, res in requests} >= {"machineconfigpools", "clusterroles", "clusterversions"}


def test_the_plays_api_server_and_token_win_whole_over_an_awx_credential(cluster, ansible, fresh):
    """An AWX job with the OpenShift credential (the developer's) and the cluster given by extra variables (the
    automation's token): the play's connection, whole; the credential's token and CA are not used."""
    auto, dev = kubeconfig_of(cluster, "automation"), kubeconfig_of(cluster, "developer")
    bad_ca = Path(os.environ.get("TMPDIR", "/tmp")) / f"not-the-cluster-ca-{os.getpid()}.crt"
    bad_ca.write_text("not a certificate\n")
    env = {"K8S_AUTH_KUBECONFIG": "", "K8S_AUTH_HOST": dev["clusters"][0]["cluster"]["server"],
           "K8S_AUTH_API_KEY": dev["users"][0]["user"]["token"], "K8S_AUTH_SSL_CA_CERT": str(bad_ca),
           "K8S_AUTH_VERIFY_SSL": "True"}
    start = mark(cluster)
    try:
        r = ansible.run("status", env=env, extra_vars={
            "sandboxed_containers_api_host": auto["clusters"][0]["cluster"]["server"],
            "sandboxed_containers_api_key": auto["users"][0]["user"]["token"],
            "sandboxed_containers_ca_cert": str(cluster.local.pki.ca_cert)})
    finally:
        bad_ca.unlink()
    # The automation user is bound to nothing here: what matters is who asked, not what it may read.
    requests = run_requests(cluster, start)
    assert requests, r
    assert {(user, imp) for user, imp, _verb, _res in requests} == {("automation", None)}, sorted(set(requests))
    assert dev["users"][0]["user"]["token"] not in r.output and auto["users"][0]["user"]["token"] not in r.output


def test_incomplete_connections_are_refused_before_any_request(cluster, ansible, fresh):
    auto = kubeconfig_of(cluster, "automation")
    start = mark(cluster)
    cases = [
        # A token without the API server would go to whatever the default kubeconfig names.
        ({"sandboxed_containers_api_key": auto["users"][0]["user"]["token"]}, {"K8S_AUTH_KUBECONFIG": ""},
         "sandboxed_containers_api_key name no cluster"),
        # Both a kubeconfig and an API server URL: which one was meant?
        ({"sandboxed_containers_kubeconfig": str(cluster.users["admin"]),
          "sandboxed_containers_api_host": auto["clusters"][0]["cluster"]["server"],
          "sandboxed_containers_api_key": auto["users"][0]["user"]["token"]}, {},
         "sandboxed_containers_kubeconfig and sandboxed_containers_api_host, sandboxed_containers_api_key both say "
         "where to connect"),
        # The environment alone, mixing a kubeconfig with a host: kubernetes.core would send the kubeconfig's
        # credentials to that host.
        ({}, {"K8S_AUTH_HOST": "https://127.0.0.1:1"},
         "K8S_AUTH_KUBECONFIG and K8S_AUTH_HOST both say where to connect"),
    ]
    for extra_vars, env, message in cases:
        r = ansible.run("status", env=env, extra_vars=extra_vars)
        assert r.rc != 0, r
        assert message in r.text, r
        assert auto["users"][0]["user"]["token"] not in r.output
    assert run_requests(cluster, start) == []


def test_the_report_is_private_and_publishes_pod_counts_not_names(cluster, ansible, fresh):
    """Item 7: the JSON report only for its owner; set_stats (what AWX shows every reader of the job and passes
    down a workflow) with the count of sandboxed pods, their names only on request."""
    api = fresh
    node_api = client.NodeV1Api(api)
    node_api.create_runtime_class(client.V1RuntimeClass(metadata=client.V1ObjectMeta(name="kata"), handler="kata"))
    ns = new_namespace(api)
    client.CoreV1Api(api).create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name="secret-project-x"),
        spec=client.V1PodSpec(runtime_class_name="kata", containers=[
            client.V1Container(name="c", image="registry.invalid/app:1")])))
    stats = {"ANSIBLE_SHOW_CUSTOM_STATS": "true"}
    r = ansible.run("status", env=stats)
    assert r.rc == 0, r
    assert r.report["pod_count"] == 1 and r.report["pods"][0]["name"] == "secret-project-x"
    report_file = Path(ansible.tmp / f"report-{ansible.runs}.json")
    assert stat.S_IMODE(report_file.stat().st_mode) == 0o600
    published = r.output.split("CUSTOM STATS", 1)[1]
    assert "pod_count: 1" in published and "cluster_id: " in published, published
    assert "secret-project-x" not in published
    r = ansible.run("status", env=stats, extra_vars={"sandboxed_containers_report_pod_names": True})
    assert r.rc == 0, r
    assert "secret-project-x" in r.output.split("CUSTOM STATS", 1)[1]
