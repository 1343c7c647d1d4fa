from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._membership import pool_members, primary_pool
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import node, pool

POOLS = [pool("master"), pool("worker"), pool("kata-oc"), pool("infra")]


def _pool(n):
    return primary_pool(n["metadata"]["name"], n["metadata"]["labels"], POOLS)


def test_worker_by_default_custom_before_worker_master_before_custom():
    assert _pool(node("w", "worker")).pool == "worker"
    assert _pool(node("k", "worker", "kata-oc")).pool == "kata-oc"
    assert _pool(node("m", "master", "worker")).pool == "master"
    assert _pool(node("mk", "master", "kata-oc")).pool == "master"


def test_two_custom_pools_put_a_node_in_none():
    m = _pool(node("both", "worker", "kata-oc", "infra"))
    assert m.pool is None
    assert m.error == "node both belongs to 2 custom roles, cannot proceed with this Node"


def test_windows_nodes_and_empty_selectors_are_never_members():
    assert _pool(node("win", "worker", **{"kubernetes.io/os": "windows"})).pool is None
    everything = pool("all", node_selector={})
    assert primary_pool("x", {"a": "b"}, [everything]).pool is None


def test_pool_members():
    nodes = [node("w1", "worker"), node("w2", "worker", "kata-oc"), node("m1", "master", "worker")]
    assert [n["metadata"]["name"] for n in pool_members("worker", nodes, POOLS)] == ["w1"]
    assert [n["metadata"]["name"] for n in pool_members("kata-oc", nodes, POOLS)] == ["w2"]
