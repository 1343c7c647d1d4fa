"""Cluster.label_exactly: which nodes get the label and which lose it, the patches sent side by side (one after the
other, a hundred nodes took 1.9 s after the rollout), and the first error raised (no cluster: the three methods
it calls are replaced)."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils import _k8s

KEY = "sandboxed.containers/handler"


class Nodes(_k8s.Cluster):
    def __init__(self, labels: dict[str, dict[str, str]], fail: str | None = None) -> None:  # no client
        self.labels = labels
        self.fail = fail
        self.patched: dict[str, str | None] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    def resource(self, api_version, kind):
        return kind

    def list(self, api_version, kind, **params):
        return [{"metadata": {"name": n, "labels": dict(v)}} for n, v in self.labels.items()]

    def patch(self, api_version, kind, name, body, namespace=None):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(0.02)
        with self.lock:
            self.in_flight -= 1
            if name == self.fail:
                raise _k8s.ClusterError(f"cannot patch Node {name}: forbidden")
            self.patched[name] = body["metadata"]["labels"][KEY]
        return {}


def test_labels_exactly_the_named_nodes_with_patches_side_by_side():
    nodes = {f"worker-{i}": {} for i in range(20)}
    nodes["worker-0"] = {KEY: "kata"}  # already right: not patched
    nodes["master-0"] = {KEY: "kata"}  # not named: loses it
    cluster = Nodes(nodes)
    added, removed, having = cluster.label_exactly(KEY, "kata", [f"worker-{i}" for i in range(20)])
    assert added == sorted(f"worker-{i}" for i in range(1, 20))
    assert removed == ["master-0"]
    assert having == ["master-0", "worker-0"]
    assert cluster.patched == {**{n: "kata" for n in added}, "master-0": None}
    assert 1 < cluster.most_in_flight <= _k8s.LABEL_THREADS


def test_the_first_refused_patch_fails_the_call_with_its_message():
    cluster = Nodes({f"worker-{i}": {} for i in range(5)}, fail="worker-3")
    with pytest.raises(_k8s.ClusterError, match="cannot patch Node worker-3: forbidden"):
        cluster.label_exactly(KEY, "kata", [f"worker-{i}" for i in range(5)])


def test_an_unknown_node_is_refused_before_any_patch():
    cluster = Nodes({"worker-0": {}})
    with pytest.raises(_k8s.ClusterError, match="no such nodes: worker-9; nothing was changed"):
        cluster.label_exactly(KEY, "kata", ["worker-0", "worker-9"])
    assert cluster.patched == {}
