from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils._names import CRIO_DROPIN_PATH, ROLE_LABEL
from ansible_collections.sandboxed.containers.plugins.module_utils._plan import plan
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import parse_release
from ansible_collections.sandboxed.containers.plugins.module_utils._rendered import merge_order, reboots, render
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN, node, pool

BASE = [pool("master"), pool("worker")]
NODES = [node("master-0", "master"), node("worker-0", "worker"), node("worker-1", "worker"),
         node("worker-2", "worker")]
# The network operator's IPsec MachineConfig (cluster-network-operator 80-ipsec-worker-extensions, 4.15+).
IPSEC = {"metadata": {"name": "80-ipsec-worker-extensions", "labels": {ROLE_LABEL: "worker"}},
         "spec": {"extensions": ["ipsec"], "config": {"ignition": {"version": "3.2.0"}}}}
INFRA = pool("infra", role_selector={"matchExpressions": [
    {"key": ROLE_LABEL, "operator": "In", "values": ["worker", "infra"]}]})


def test_worker_path_reboots_every_worker_only():
    p = plan(NODES, BASE, machine_configs=[], current_mc=None, desired_mc=o.machine_config("worker", DROPIN),
             custom_pool=None, chosen=None)
    assert p.reboot == ["worker-0", "worker-1", "worker-2"]
    assert p.label == p.unlabel == []
    assert p.handler == ["worker-0", "worker-1", "worker-2"] and p.handler_kept == []
    assert p.pools == {"worker": ["worker-0", "worker-1", "worker-2"]}
    assert p.why["worker-0"].startswith("extensions [] -> ['sandboxed-containers']")


def test_custom_pool_path_reboots_the_chosen_only():
    p = plan(NODES, BASE, machine_configs=[], current_mc=None, desired_mc=o.machine_config("kata-oc", DROPIN),
             custom_pool=o.custom_pool("kata-oc"), chosen={"worker-0", "worker-1"})
    assert p.label == ["worker-0", "worker-1"]
    assert p.reboot == ["worker-0", "worker-1"]
    assert p.moves == {"worker-0": ["worker", "kata-oc"], "worker-1": ["worker", "kata-oc"]}
    assert p.pools == {"kata-oc": ["worker-0", "worker-1"]} and p.pools_without == []


def test_second_run_plans_nothing():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker")]
    p = plan(nodes, [*BASE, cp], machine_configs=[mc], current_mc=mc, desired_mc=mc, custom_pool=cp,
             chosen={"worker-0"})
    assert (p.label, p.unlabel, p.reboot, p.moves) == ([], [], [], {})
    assert p.handler == p.handler_kept == ["worker-0"]


def test_changing_the_selection_reboots_movers_only():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker", "kata-oc"), node("worker-2", "worker")]
    p = plan(nodes, [*BASE, cp], machine_configs=[mc], current_mc=mc, desired_mc=mc, custom_pool=cp,
             chosen={"worker-1", "worker-2"})
    assert p.label == ["worker-2"] and p.unlabel == ["worker-0"]
    assert p.reboot == ["worker-0", "worker-2"]
    assert p.handler_kept == ["worker-1"]  # worker-0 loses its handler label before it leaves
    assert p.pools_without == ["worker"]  # worker-0 lands there and the worker pool must converge without us


def test_content_change_reboots_the_pool_overhead_does_not_matter():
    cp = o.custom_pool("kata-oc")
    old = o.machine_config("kata-oc", DROPIN, version="0.9.0")
    new = o.machine_config("kata-oc", DROPIN.replace("/run/vc", "/run/kata"))
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker")]
    p = plan(nodes, [*BASE, cp], machine_configs=[old], current_mc=old, desired_mc=new, custom_pool=cp,
             chosen={"worker-0"})
    assert p.reboot == ["worker-0"] and p.why["worker-0"] == f"files {CRIO_DROPIN_PATH}"
    same = o.machine_config("kata-oc", DROPIN)  # only the version annotation differs
    assert plan(nodes, [*BASE, cp], machine_configs=[old], current_mc=old, desired_mc=same, custom_pool=cp,
                chosen={"worker-0"}).reboot == []


def test_uninstall_reboots_the_nodes_that_had_it():
    cp = o.custom_pool("kata-oc")
    mc = o.machine_config("kata-oc", DROPIN)
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker")]
    p = plan(nodes, [*BASE, cp], machine_configs=[mc], current_mc=mc, desired_mc=None, custom_pool=cp, chosen=set(),
             remove_custom_pool=True)
    assert p.unlabel == ["worker-0"] and p.reboot == ["worker-0"]
    assert p.pools == {} and p.pools_without == ["worker"]


def test_node_in_two_custom_pools_is_reported():
    nodes = [node("worker-0", "worker", "infra")]
    p = plan(nodes, [*BASE, pool("infra")], machine_configs=[], current_mc=None,
             desired_mc=o.machine_config("kata-oc", DROPIN), custom_pool=o.custom_pool("kata-oc"), chosen={"worker-0"})
    assert p.errors == ["node worker-0 belongs to 2 custom roles, cannot proceed with this Node"]


def test_an_extension_carrying_worker_config_makes_the_role_change_reboot_the_chosen_nodes():
    # worker pool: [sandboxed-containers, ipsec] (50-... sorts before 80-...); kata-oc renders worker-role configs
    # first: [ipsec, sandboxed-containers]. The daemon compares the lists in order, so the chosen nodes reboot
    # although they carried Kata before and after (machine-config-operator pkg/daemon/update.go).
    cp = o.custom_pool("kata-oc")
    on_worker = o.machine_config("worker", DROPIN)
    on_custom = o.machine_config("kata-oc", DROPIN)
    nodes = [node("worker-0", "worker", "kata-oc"), node("worker-1", "worker")]
    pools = [*BASE, cp]
    p = plan(nodes, pools, machine_configs=[IPSEC, on_worker], current_mc=on_worker, desired_mc=on_custom,
             custom_pool=cp, chosen={"worker-0"})
    assert p.reboot == ["worker-0", "worker-1"]
    assert p.why["worker-0"] == ("the MCO reorders its extensions ['sandboxed-containers', 'ipsec'] -> "
                                 "['ipsec', 'sandboxed-containers']")
    assert p.why["worker-1"] == "extensions ['sandboxed-containers', 'ipsec'] -> ['ipsec']; files " + \
        CRIO_DROPIN_PATH
    # Without the IPsec config the same change reboots only the node that loses Kata.
    p = plan(nodes, pools, machine_configs=[on_worker], current_mc=on_worker, desired_mc=on_custom, custom_pool=cp,
             chosen={"worker-0"})
    assert p.reboot == ["worker-1"]


def test_release_4_14_sorts_every_config_by_name():
    on_custom = o.machine_config("kata-oc", DROPIN)
    cp = o.custom_pool("kata-oc")
    names = [mc["metadata"]["name"] for mc in merge_order([IPSEC, on_custom], worker_first=False)]
    assert names == ["50-sandboxed-containers", "80-ipsec-worker-extensions"]
    assert render(cp, [IPSEC, on_custom], worker_first=False).extensions == ["sandboxed-containers", "ipsec"]
    assert render(cp, [IPSEC, on_custom]).extensions == ["ipsec", "sandboxed-containers"]
    nodes = [node("worker-0", "worker", "kata-oc")]
    on_worker = o.machine_config("worker", DROPIN)
    p = plan(nodes, [*BASE, cp], machine_configs=[IPSEC, on_worker], current_mc=on_worker, desired_mc=on_custom,
             custom_pool=cp, chosen={"worker-0"}, release=parse_release("4.14.30"))
    assert p.reboot == []  # on 4.14 both pools render [sandboxed-containers, ipsec]


def test_pools_that_inherit_the_worker_configs_are_planned_and_waited_for():
    nodes = [*NODES, node("infra-0", "worker", "infra")]
    p = plan(nodes, [*BASE, INFRA], machine_configs=[], current_mc=None, desired_mc=o.machine_config("worker", DROPIN),
             custom_pool=None, chosen=None)
    assert p.reboot == ["infra-0", "worker-0", "worker-1", "worker-2"]
    assert p.pools == {"infra": ["infra-0"], "worker": ["worker-0", "worker-1", "worker-2"]}
    assert "infra-0" in p.handler
    # On the custom path the infra pool does not inherit the custom role.
    p = plan(nodes, [*BASE, INFRA], machine_configs=[], current_mc=None,
             desired_mc=o.machine_config("kata-oc", DROPIN), custom_pool=o.custom_pool("kata-oc"), chosen={"worker-0"})
    assert p.reboot == ["worker-0"] and "infra-0" not in p.handler


def test_files_the_daemon_does_not_reboot_for():
    a = render(pool("worker"), [])
    b = render(pool("worker"), [{"metadata": {"name": "99-x", "labels": {ROLE_LABEL: "worker"}}, "spec": {
        "config": {"storage": {"files": [{"path": "/etc/containers/registries.d/x.yaml"}]}}}}])
    assert not reboots(a, b)
    assert reboots(a, render(pool("worker"), [o.machine_config("worker", DROPIN)]))
    assert not reboots(None, a)
