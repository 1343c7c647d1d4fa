from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils._plan import plan
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN, node, pool

BASE = [pool("master"), pool("worker")]
NODES = [node("master-0", "master"), node("worker-0", "worker"), node("worker-1", "worker"),
         node("worker-2", "worker")]


def test_worker_path_reboots_every_worker_only():
    p = plan(NODES, BASE, current_mc=None, desired_mc=o.machine_config("worker", DROPIN), custom_pool=None,
             chosen=None)
    assert p.reboot == ["worker-0", "worker-1", "worker-2"]
    assert p.label == p.unlabel == []


def test_custom_pool_path_reboots_the_chosen_only():
    p = plan(NODES, BASE, current_mc=None, desired_mc=o.machine_config("kata-oc", DROPIN),
             custom_pool=o.custom_pool("kata-oc"), chosen={"worker-0", "worker-1"})
    assert p.label == ["worker-0", "worker-1"]
    assert p.reboot == ["worker-0", "worker-1"]
    assert p.moves == {"worker-0": ["worker", "kata-oc"], "worker-1": ["worker", "kata-oc"]}


def test_second_run_plans_nothing():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker")]
    p = plan(nodes, [*BASE, cp], current_mc=mc, desired_mc=mc, custom_pool=cp, chosen={"worker-0"})
    assert (p.label, p.unlabel, p.reboot, p.moves) == ([], [], [], {})


def test_changing_the_selection_reboots_movers_only():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker", "kata-oc"), node("worker-2", "worker")]
    p = plan(nodes, [*BASE, cp], current_mc=mc, desired_mc=mc, custom_pool=cp, chosen={"worker-1", "worker-2"})
    assert p.label == ["worker-2"] and p.unlabel == ["worker-0"]
    assert p.reboot == ["worker-0", "worker-2"]


def test_content_change_reboots_the_pool_overhead_does_not_matter():
    cp = o.custom_pool("kata-oc")
    old = o.machine_config("kata-oc", DROPIN, version="0.9.0")
    new = o.machine_config("kata-oc", DROPIN.replace("/run/vc", "/run/kata"))
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker")]
    assert plan(nodes, [*BASE, cp], current_mc=old, desired_mc=new, custom_pool=cp,
                chosen={"worker-0"}).reboot == ["worker-0"]
    same = o.machine_config("kata-oc", DROPIN)  # only the version annotation differs
    assert plan(nodes, [*BASE, cp], current_mc=old, desired_mc=same, custom_pool=cp,
                chosen={"worker-0"}).reboot == []


def test_uninstall_reboots_the_nodes_that_had_it():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker")]
    p = plan(nodes, [*BASE, cp], current_mc=mc, desired_mc=None, custom_pool=cp, chosen=set(),
             remove_custom_pool=True)
    assert p.unlabel == ["worker-0"] and p.reboot == ["worker-0"]


def test_node_in_two_custom_pools_is_reported():
    nodes = [node("worker-0", "worker", "infra")]
    p = plan(nodes, [*BASE, pool("infra")], current_mc=None, desired_mc=o.machine_config("kata-oc", DROPIN),
             custom_pool=o.custom_pool("kata-oc"), chosen={"worker-0"})
    assert p.errors == ["node worker-0 belongs to 2 custom roles, cannot proceed with this Node"]
