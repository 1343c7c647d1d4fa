"""The README's promise: `make demo` sets everything up and installs on the local cluster."""

from __future__ import annotations

import subprocess

from kubernetes import client, config

from sim import testing as st
from support import REPO


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
        api = config.new_client_from_config(config_file=str(directory / "kubeconfig"))
        assert client.NodeV1Api(api).read_runtime_class("kata").handler == "kata"
        assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                                   "worker-0": 1, "worker-1": 1, "worker-2": 1}
    finally:
        subprocess.run(["make", "cluster-down", f"CLUSTER_DIR={directory}"], cwd=REPO, capture_output=True,
                       timeout=120, check=False)
