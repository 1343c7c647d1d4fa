"""The README's promise: `make demo` sets everything up and installs on the local cluster, and neither it nor any
playbook the README shows prints a warning on a fresh clone."""

from __future__ import annotations

import os
import re
import subprocess

from kubernetes import client, config

from sim import testing as st
from support import REPO

VENV_BIN = REPO / ".venv" / "bin"
# Every playbook after `make demo` (which runs install and status), in an order that works on one cluster: the
# README names each (tests/unit checks that), and a first run of each must print no warning.
AFTER_DEMO = ["render", "status", "verify", "policy", "automation_access", "upgrade", "fleet", "doctor", "uninstall"]
DIGEST_IMAGE = "registry.invalid/ubi9/ubi-minimal@sha256:" + "0" * 64


def warnings_in(out: str) -> list[str]:
    return [line for line in out.splitlines() if "WARNING" in line]


def run_playbook(name: str, kubeconfig: str, tmp_path) -> str:
    """A playbook as the README shows it: from the checkout, the connection from K8S_AUTH_KUBECONFIG."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_AUTH_", "ANSIBLE_"))}
    env.update(K8S_AUTH_KUBECONFIG=kubeconfig, ANSIBLE_FORCE_COLOR="0")
    argv = [str(VENV_BIN / "ansible-playbook"), f"playbooks/{name}.yml"]
    if name == "verify":
        argv += ["-e", f"sandboxed_containers_verify_image={DIGEST_IMAGE}"]
    if name in ("render", "status"):  # the demo's objects as manifests, and status against them (drift)
        argv += ["-e", f"sandboxed_containers_render_dir={tmp_path / 'rendered'}"]
    if name == "fleet":  # a fleet of one: the demo cluster as the only host of an inventory of clusters
        inventory = tmp_path / "clusters.yml"
        inventory.write_text(f"all:\n  hosts:\n    demo:\n      sandboxed_containers_kubeconfig: {kubeconfig}\n")
        argv += ["-i", str(inventory)]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name}: {out[-4000:]}"
    return out


def test_every_playbook_is_run_here():
    assert {p.stem for p in (REPO / "playbooks").glob("*.yml")} == {"install", *AFTER_DEMO}
    shown = set(re.findall(r"playbooks/(\w+)\.yml", (REPO / "README.md").read_text()))
    assert shown <= {"install", *AFTER_DEMO}


def test_make_demo_installs_on_a_local_cluster_and_prints_the_status(tmp_path):
    directory = tmp_path / "demo-cluster"
    env_args = [f"CLUSTER_DIR={directory}", "SIM_RENDER_DELAY_SECONDS=1", "SIM_NODE_UPDATE_SECONDS=0.3"]
    try:
        proc = subprocess.run(["make", "demo", *env_args], cwd=REPO, capture_output=True, text=True, timeout=900,
                              check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-4000:]
        assert "the local cluster is ready at https://127.0.0.1:" in out
        status = "3 nodes installed, 0 installing, 0 waiting, 0 failed; RuntimeClass kata present"
        assert status in " ".join(out.split())
        assert warnings_in(out) == []
        api = config.new_client_from_config(config_file=str(directory / "kubeconfig"))
        assert client.NodeV1Api(api).read_runtime_class("kata").handler == "kata"
        assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                                   "worker-0": 1, "worker-1": 1, "worker-2": 1}
        for name in AFTER_DEMO:
            out = run_playbook(name, str(directory / "kubeconfig"), tmp_path)
            assert warnings_in(out) == [], name
            if name == "status":  # the demo installed what the render wrote for the same (default) settings
                assert f"No drift from {tmp_path / 'rendered'}" in " ".join(out.split()), out[-3000:]
    finally:
        subprocess.run(["make", "cluster-down", f"CLUSTER_DIR={directory}"], cwd=REPO, capture_output=True,
                       timeout=120, check=False)
