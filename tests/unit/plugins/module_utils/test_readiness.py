"""_readiness.not_ready_because: when a node may take sandboxed pods (pure; the wait labels it then)."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._readiness import not_ready_because

CURRENT = "machineconfiguration.openshift.io/currentConfig"
DESIRED = "machineconfiguration.openshift.io/desiredConfig"
STATE = "machineconfiguration.openshift.io/state"
CARRIES = {"rendered-worker-new": True, "rendered-worker-old": False}


def node(current="rendered-worker-new", desired=None, state="Done", ready="True", handlers=None) -> dict:
    status: dict = {"conditions": [{"type": "Ready", "status": ready}]}
    if handlers is not None:
        status["runtimeHandlers"] = [{"name": h, "features": {"recursiveReadOnlyMounts": True}} for h in handlers]
    return {"metadata": {"name": "worker-0", "annotations": {CURRENT: current, DESIRED: desired or current,
                                                             STATE: state}}, "status": status}


def why(n: dict) -> str | None:
    return not_ready_because(n, "kata", CARRIES.get)


def test_a_node_done_on_a_config_with_the_machine_config_is_ready():
    assert why(node()) is None


@pytest.mark.parametrize("n, reason", [
    (node(ready="False"), "not Ready"),
    (node(current="rendered-worker-old", desired="rendered-worker-new", state="Working"), "updating (Working)"),
    (node(current="rendered-worker-old", desired="rendered-worker-new"), "updating (Done)"),
    (node(current="rendered-worker-old"), "runs rendered-worker-old, which lacks the MachineConfig"),
    (node(current="rendered-unknown"), "runs rendered-unknown, which lacks the MachineConfig"),
])
def test_a_node_is_not_ready_until_it_runs_the_machine_config(n, reason):
    assert why(n) == reason


def test_where_the_kubelet_reports_runtime_handlers_the_handler_must_be_among_them():
    assert why(node(handlers=["", "runc", "crun"])) == "the kubelet does not report the kata handler"
    assert why(node(handlers=["", "runc", "crun", "kata"])) is None
    assert why(node(handlers=None)) is None  # before Kubernetes 1.30 (OpenShift 4.17) the field does not exist
