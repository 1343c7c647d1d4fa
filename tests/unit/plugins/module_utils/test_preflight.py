from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    PreflightError,
    Settings,
    decide,
    virtualization_capable,
)
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN, node, pool

VIRT = {"feature.node.kubernetes.io/cpu-cpuid.VMX": "true", "feature.node.kubernetes.io/runtime.kata": "true"}
NO_VIRT = {"feature.node.kubernetes.io/kernel-version.major": "5"}
BASE = [pool("master"), pool("worker")]


def standard(**extra_labels):
    return [node(f"master-{i}", "master", **{"topology.kubernetes.io/zone": f"z{i}"}) for i in range(3)] + [
        node(f"worker-{i}", "worker", **VIRT, **extra_labels.get(f"worker-{i}", {})) for i in range(3)]


def settings(**kw) -> Settings:
    return Settings(crio_dropin=DROPIN, **kw)


def test_default_selector_targets_the_worker_pool():
    d = decide(settings(), standard(), BASE, current_mc=None, kataconfigs=[])
    assert (d.topology, d.target_pool, d.custom_pool, d.role) == ("standard", "worker", False, "worker")
    assert d.chosen_nodes == ["worker-0", "worker-1", "worker-2"]
    assert d.plan["reboot"] == d.chosen_nodes


def test_selector_targets_a_custom_pool_with_the_matching_workers():
    nodes = standard(**{"worker-0": {"kata": "yes"}, "worker-2": {"kata": "yes"}})
    d = decide(settings(node_selector={"matchLabels": {"kata": "yes"}}), nodes, BASE, current_mc=None, kataconfigs=[])
    assert (d.target_pool, d.custom_pool, d.role) == ("kata-oc", True, "kata-oc")
    assert d.chosen_nodes == ["worker-0", "worker-2"]
    assert d.plan["label"] == d.plan["reboot"] == ["worker-0", "worker-2"]


def test_compact_cluster_targets_master_and_says_so():
    nodes = [node(f"master-{i}", "master", "worker", **VIRT) for i in range(3)]
    d = decide(settings(), nodes, BASE, current_mc=None, kataconfigs=[])
    assert (d.topology, d.target_pool, d.role) == ("compact", "master", "master")
    assert "compact cluster: the worker pool has no machines" in d.messages[0]
    assert d.plan["reboot"] == ["master-0", "master-1", "master-2"]
    with pytest.raises(PreflightError, match="compact cluster: its workers are control-plane nodes"):
        decide(settings(node_selector={"matchLabels": {"a": "b"}}), nodes, BASE, current_mc=None, kataconfigs=[])


def test_single_node_cluster():
    d = decide(settings(), [node("sno-0", "master", "worker", **VIRT)], BASE, current_mc=None, kataconfigs=[])
    assert (d.topology, d.target_pool, d.chosen_nodes) == ("sno", "master", ["sno-0"])


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"node_selector": {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}},
         "operator 'Equals' is not valid"),
        ({"node_selector": {"matchLabels": {"nothing": "matches"}}},
         "(nothing=matches) matches no worker node; the workers are worker-0, worker-1, worker-2"),
        ({"overhead": {"cpu": "250 millicores"}}, "overhead cpu '250 millicores' is not a Kubernetes quantity"),
        ({"pool_name": "worker"}, "is a pool of the MCO"),
        ({"pool_name": "Kata_OC"}, "must be a DNS label"),
        ({"max_unavailable": "150%"}, "must be a number of nodes (1 or more) or a percentage"),
        ({"max_unavailable": 0}, "must be a number of nodes (1 or more) or a percentage"),
        ({"crio_dropin": "[crio.runtime.runtimes.other]\nruntime_path='/x'\nruntime_type='vm'\n"},
         "no [crio.runtime.runtimes.kata] table"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kw, message):
    s = Settings(**({"crio_dropin": DROPIN} | kw))
    with pytest.raises(PreflightError) as e:
        decide(s, standard(), BASE, current_mc=None, kataconfigs=[])
    assert message in str(e.value)


def test_existing_kataconfig_is_refused():
    with pytest.raises(PreflightError, match="operator manages this cluster \\(KataConfig example-kataconfig\\)"):
        decide(settings(), standard(), BASE, current_mc=None, kataconfigs=["example-kataconfig"])


def test_foreign_pool_with_our_name_is_refused():
    with pytest.raises(PreflightError, match=r"not managed by sandboxed\.containers"):
        decide(settings(node_selector={"matchLabels": {"a": "b"}}), standard(), [*BASE, pool("kata-oc")],
               current_mc=None, kataconfigs=[])


def test_degraded_or_paused_target_pool_is_refused():
    degraded = pool("worker", conds={"Degraded": ("True", "", "Node worker-1 is reporting: boom")})
    with pytest.raises(PreflightError, match="pool worker is Degraded: Node worker-1 is reporting: boom"):
        decide(settings(), standard(), [pool("master"), degraded], current_mc=None, kataconfigs=[])
    with pytest.raises(PreflightError, match="pool worker is paused"):
        decide(settings(), standard(), [pool("master"), pool("worker", paused=True)], current_mc=None, kataconfigs=[])


def test_virtualization_check_fail_warn_ignore():
    nodes = standard()
    nodes[4]["metadata"]["labels"] = {**{k: v for k, v in nodes[4]["metadata"]["labels"].items()
                                         if not k.startswith("feature.")}, **NO_VIRT}
    assert virtualization_capable(nodes[4]) is False
    assert virtualization_capable(nodes[3]) is True
    assert virtualization_capable(node("bare", "worker")) is None
    with pytest.raises(PreflightError, match="nodes worker-1 are not virtualization-capable"):
        decide(settings(), nodes, BASE, current_mc=None, kataconfigs=[])
    d = decide(settings(virtualization_check="warn"), nodes, BASE, current_mc=None, kataconfigs=[])
    assert any("worker-1 are not virtualization-capable" in w for w in d.warnings)
    d = decide(settings(virtualization_check="ignore"), nodes, BASE, current_mc=None, kataconfigs=[])
    assert d.warnings == []


def test_second_run_plans_no_reboot():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = standard(**{"worker-0": {"kata": "yes", o.node_role_label("kata-oc"): ""}})
    d = decide(settings(node_selector={"matchLabels": {"kata": "yes"}}), nodes, [*BASE, cp], current_mc=mc,
               kataconfigs=[])
    assert d.plan == {"label": [], "unlabel": [], "reboot": [], "moves": {}, "errors": []}
