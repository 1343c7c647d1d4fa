"""cluster-up, cluster-down and their edge cases, on a second cluster of its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from localcluster import LocalCluster, Settings
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
