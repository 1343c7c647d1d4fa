"""The simulator keeps no state of its own: killed at any point, it resumes."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sim import testing as st
from sim.constants import POST_CONFIG_ACTION, STATE

KATA = {"/etc/crio/crio.conf.d/50-kata": "[crio.runtime.runtimes.kata]\n"
        'runtime_path = "/usr/bin/containerd-shim-kata-v2"\nruntime_type = "vm"\n'}


def _kill(cluster) -> None:
    pid = cluster.local.pid("simulator")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    cluster.local.restart("simulator")


def _node(api, predicate):
    return next((n for n in st.nodes(api, "worker") if predicate(n["metadata"].get("annotations") or {}, n)), None)


def test_killed_mid_rollout_it_resumes_with_one_reboot_per_node(cluster, api):
    if cluster.local is None:
        pytest.skip("needs a cluster started by localcluster")
    st.reset(api, render_delay=1, node_update=2)
    st.create_mc(api, st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"], files=KATA))
    # while the first node reboots
    first = st.wait_for(lambda: _node(api, lambda a, n: a.get(POST_CONFIG_ACTION) == "Rebooting"),
                        timeout=30, interval=0.02, what="a node rebooting")
    _kill(cluster)
    # while the next one is drained but not yet rebooted
    st.wait_for(lambda: _node(api, lambda a, n: n["metadata"]["name"] != first["metadata"]["name"]
                              and a.get(STATE) == "Working" and n["spec"].get("unschedulable")
                              and a.get(POST_CONFIG_ACTION) != "Rebooting"),
                timeout=30, interval=0.02, what="a second node drained")
    _kill(cluster)
    # right after a node was told to go
    st.wait_for(lambda: _node(api, lambda a, n: a.get(STATE) == "Working" and not n["spec"].get("unschedulable")
                              and a.get("machineconfiguration.openshift.io/currentConfig")
                              != a.get("machineconfiguration.openshift.io/desiredConfig")),
                timeout=30, interval=0.01, what="a third node starting")
    _kill(cluster)
    p = st.wait_pool_converged(api, "worker", contains=["50-kata"], timeout=60)
    assert st.reboots(api) == {"master-0": 0, "master-1": 0, "master-2": 0,
                               "worker-0": 1, "worker-1": 1, "worker-2": 1}
    assert st.machine_count(p)["updated"] == 3


def test_sigterm_stops_it_quickly(cluster, api, figure):
    if cluster.local is None:
        pytest.skip("needs a cluster started by localcluster")
    st.reset(api, render_delay=1, node_update=0.5)
    assert cluster.local.pid("simulator") is not None
    t0 = time.monotonic()
    assert cluster.local.stop("simulator")
    took = time.monotonic() - t0
    figure(f"simulator stop on SIGTERM: {took:.2f} s")
    assert took < 5
    assert not (cluster.local.dir / "simulator.ready").exists()
    t0 = time.monotonic()
    cluster.local.restart("simulator")
    figure(f"simulator start until ready: {time.monotonic() - t0:.2f} s")
    # it works again
    st.create_mc(api, st.machine_config("50-x", "worker", files={"/etc/x": "x"}))
    st.wait_pool_converged(api, "worker", contains=["50-x"])
