"""_k8s.execute, the one path by which the actions and the modules run a body: the diff only in diff mode, the
warnings passed on, a ClusterError turned into a failed result with its message (no cluster needed: Cluster is
replaced by a stand-in that records what it was built from)."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils import _k8s


class FakeCluster:
    def __init__(self, task):
        self.task = task


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch):
    monkeypatch.setattr(_k8s, "Cluster", FakeCluster)


def body(cluster):
    cluster.task.warn("careful")
    return {"changed": True, "diff": {"before": {}, "after": {"x": 1}}, "seen": cluster.task.params["name"]}


def test_the_diff_is_kept_only_in_diff_mode_and_warnings_go_with_the_result():
    plain = _k8s.execute(_k8s.Task({"name": "kata"}), body)
    assert plain == {"changed": True, "seen": "kata", "warnings": ["careful"]}
    with_diff = _k8s.execute(_k8s.Task({"name": "kata"}, diff=True), body)
    assert with_diff["diff"] == {"before": {}, "after": {"x": 1}}


def test_a_cluster_error_is_a_failed_result_with_its_message():
    def refuses(cluster):
        raise _k8s.ApiUnreachable("cannot reach the API server at https://example.com:6443")

    assert _k8s.execute(_k8s.Task({}), refuses) == {
        "failed": True, "msg": "cannot reach the API server at https://example.com:6443"}


def test_unavailable_tells_a_restart_from_a_refusal():
    class Status(Exception):
        def __init__(self, status):
            super().__init__(status)
            self.status = status

    assert _k8s.unavailable(_k8s.ApiUnreachable("x"))
    assert _k8s.unavailable(ConnectionRefusedError())
    assert _k8s.unavailable(Status(503))
    assert not _k8s.unavailable(Status(403))
    assert not _k8s.unavailable(_k8s.ClusterError("refused"))


def test_the_task_takes_the_environment_it_is_given():
    task = _k8s.Task({}, environ={"K8S_AUTH_HOST": "https://example.com"})
    assert task.environ == {"K8S_AUTH_HOST": "https://example.com"}
    assert _k8s.Task({}).environ is not None
