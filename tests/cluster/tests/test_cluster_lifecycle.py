"""cluster-up, cluster-down and their edge cases, on a second cluster of its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localcluster import ClusterError, LocalCluster, Settings
from localcluster.cluster import HERE


def _pids_of(directory: Path) -> list[int]:
    """Every live process whose command line names the cluster directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(directory) in cmd and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.fixture
def second(tmp_path):
    lc = LocalCluster(tmp_path / "c2")
    yield lc
    lc.down()


def test_up_down_up(second, capsys):
    t0 = time.monotonic()
    assert second.up(Settings(), quiet=True) is True
    first = time.monotonic() - t0
    assert second.up(Settings()) is False
    assert "already running" in capsys.readouterr().err
    running = second.running()
    assert all(running.values()), running

    stopped = second.down()
    assert set(stopped) == set(running)
    time.sleep(0.2)
    assert _pids_of(second.dir) == []
    assert all(p is None for p in second.running().values())

    t0 = time.monotonic()
    second.up(Settings(), quiet=True)
    again = time.monotonic() - t0
    print(f"\ncluster-up: {first:.1f} s, after cluster-down with cached binaries: {again:.1f} s")
    assert all(second.running().values())


def test_stale_pid_file_is_handled(second):
    second.up(Settings(), quiet=True)
    real = second.pid("kube-scheduler")
    second.stop("kube-scheduler")
    # A pid file left by a crash, naming a pid that now belongs to someone else.
    other = subprocess.Popen(["sleep", "30"])
    try:
        second.pid_file("kube-scheduler").write_text(json.dumps({"pid": other.pid, "start": "1"}))
        assert second.pid("kube-scheduler") is None
        assert not second.pid_file("kube-scheduler").exists()
        second.pid_file("kube-scheduler").write_text(json.dumps({"pid": other.pid, "start": "1"}))
        assert second.up(Settings(), quiet=True) is True
        assert other.poll() is None, "cluster-up must not touch a process it did not start"
        new = second.pid("kube-scheduler")
        assert new not in (None, real, other.pid)
    finally:
        other.kill()
        other.wait()


def test_taken_port_is_replaced(second):
    second.up(Settings(), quiet=True)
    port = second.state()["ports"]["kube-apiserver"]
    second.stop("kube-apiserver")
    with socket.socket() as squatter:
        # Connections the stopped server closed may linger in TIME_WAIT on that port; a listener may still take it.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        second.up(Settings(), quiet=True)
        new = second.state()["ports"]["kube-apiserver"]
        assert new != port
        assert f"127.0.0.1:{new}" in second.kubeconfig.read_text()
        assert all(second.running().values())


def _build_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(extra)
    return env


def test_build_without_go_says_what_is_missing(tmp_path):
    env = _build_env(PATH="/usr/bin:/bin", SANDBOXED_CONTAINERS_CACHE=str(tmp_path))
    proc = subprocess.run(["bash", str(HERE / "build.sh")], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "no Go toolchain on PATH" in proc.stderr
    assert proc.stdout == ""


def test_build_with_a_refused_module_names_the_command(tmp_path):
    env = _build_env(
        PATH=os.environ["PATH"], SANDBOXED_CONTAINERS_CACHE=str(tmp_path / "cache"),
        GOMODCACHE=str(tmp_path / "mod"), GOPROXY="off", GOCACHE=str(tmp_path / "gocache"),
        HOME=os.environ.get("HOME", str(tmp_path)),
    )
    proc = subprocess.run(["bash", str(HERE / "build.sh")], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "this command failed" in proc.stderr
    assert "go mod download" in proc.stderr
    assert "GOPROXY=off" in proc.stderr  # go's own reason is shown
    subprocess.run(["chmod", "-R", "u+w", str(tmp_path)], check=False)  # the module cache is read-only


SUPPORTED_LINE = ("CLUSTER_OPENSHIFT_VERSION=4.9 is not supported; "
                  "use one of 4.14, 4.15, 4.16, 4.17, 4.18, 4.19, 4.20, 4.21")


def test_unknown_openshift_version_is_one_line(tmp_path):
    with pytest.raises(ClusterError) as e:
        Settings.from_env({"CLUSTER_OPENSHIFT_VERSION": "4.9"})
    assert str(e.value) == SUPPORTED_LINE
    env = dict(os.environ, CLUSTER_OPENSHIFT_VERSION="4.9", PYTHONPATH=str(HERE))
    proc = subprocess.run([sys.executable, "-m", "localcluster", "--dir", str(tmp_path / "c"), "up"],
                          env=env, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == f"error: {SUPPORTED_LINE}\n"
    assert not (tmp_path / "c").exists()  # refused before anything was created


@pytest.mark.parametrize(("env", "expected"), [
    ({}, {"openshift_version": "4.21", "topology": "standard", "workers": 3, "masters_schedulable": False}),
    ({"CLUSTER_OPENSHIFT_VERSION": "4.16.3"}, {"openshift_version": "4.16"}),
    ({"CLUSTER_TOPOLOGY": "compact"}, {"workers": 0, "masters_schedulable": True}),
    ({"CLUSTER_TOPOLOGY": "sno", "CLUSTER_WORKERS": "2"}, {"workers": 2, "masters_schedulable": True}),
    ({"CLUSTER_MASTERS_SCHEDULABLE": "true", "CLUSTER_INFRA_NODES": "2"}, {"masters_schedulable": True, "infra": 2}),
    ({"CLUSTER_NODE_ARCH": "worker-1=arm64, worker-2=s390x"}, {"arch": {"worker-1": "arm64", "worker-2": "s390x"}}),
    ({"CLUSTER_NO_NFD_NODES": "all", "CLUSTER_NOT_VIRT_NODES": "worker-0"},
     {"no_nfd": ("all",), "not_virt": ("worker-0",)}),
    ({"CLUSTER_MACHINECONFIGS": "ipsec,osc-leftover", "CLUSTER_OS": "scos"},
     {"machine_configs": ("ipsec", "osc-leftover"), "os": "scos"}),
])
def test_settings_from_env(env, expected):
    s = Settings.from_env(env)
    assert {k: getattr(s, k) for k in expected} == expected
    assert Settings.from_state(json.loads(json.dumps(s.to_state()))) == s  # as state.json keeps them


@pytest.mark.parametrize(("env", "message"), [
    ({"CLUSTER_TOPOLOGY": "hcp"}, "CLUSTER_TOPOLOGY=hcp is not supported; use standard, compact or sno"),
    ({"CLUSTER_WORKERS": "two"}, "CLUSTER_WORKERS=two is not supported; use a number, 0 or more"),
    ({"CLUSTER_MASTERS_SCHEDULABLE": "maybe"}, "CLUSTER_MASTERS_SCHEDULABLE=maybe is not supported; use true or false"),
    ({"CLUSTER_NODE_ARCH": "worker-1=x86_64"},
     "CLUSTER_NODE_ARCH=worker-1=x86_64 is not supported; "
     "use node=arch pairs, arch one of amd64, arm64, ppc64le, s390x"),
    ({"CLUSTER_NODE_ARCH": "worker-7=arm64"}, "CLUSTER_NODE_ARCH=worker-7=arm64 is not supported; use names of this "
     "cluster's nodes: master-0, master-1, master-2, worker-0, worker-1, worker-2"),
    ({"CLUSTER_NO_NFD_NODES": "infra-0"}, "CLUSTER_NO_NFD_NODES=infra-0 is not supported; use names of this "
     "cluster's nodes: master-0, master-1, master-2, worker-0, worker-1, worker-2, or all"),
    ({"CLUSTER_MACHINECONFIGS": "kdump"},
     "CLUSTER_MACHINECONFIGS=kdump is not supported; use a list of ipsec, osc-leftover"),
    ({"CLUSTER_MACHINECONFIGS": "ipsec", "CLUSTER_OPENSHIFT_VERSION": "4.14"},
     "CLUSTER_MACHINECONFIGS=ipsec needs OpenShift 4.15 or later: the network operator creates "
     "80-ipsec-master-extensions and 80-ipsec-worker-extensions from release-4.15 (this cluster is 4.14)"),
    ({"CLUSTER_OS": "ubuntu"}, "CLUSTER_OS=ubuntu is not supported; use one of rhcos, scos, fcos"),
])
def test_bad_knob_is_one_line(env, message):
    with pytest.raises(ClusterError) as e:
        Settings.from_env(env)
    assert str(e.value) == message


def test_openshift_api_download_failure_is_one_line(tmp_path):
    env = _build_env(PATH=os.environ["PATH"], SANDBOXED_CONTAINERS_CACHE=str(tmp_path / "cache"),
                     GOMODCACHE=str(tmp_path / "mod"), GOPROXY="off", GOCACHE=str(tmp_path / "gocache"),
                     HOME=os.environ.get("HOME", str(tmp_path)), PYTHONPATH=str(HERE))
    code = "from localcluster import openshift_api as o\ntry:\n o.crd_files()\nexcept Exception as e:\n print(e)"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    out = proc.stdout.strip()
    assert "\n" not in out
    assert out.startswith("cannot download github.com/openshift/api@v0.0.0-")
    assert "GOPROXY=off" in out
