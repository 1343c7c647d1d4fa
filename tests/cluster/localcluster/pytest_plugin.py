"""pytest fixtures: one local cluster per test session.

`cluster` starts a cluster in .cluster-test/ once per session and stops it at
the end, or uses a running one when SANDBOXED_CONTAINERS_KUBECONFIG points to
its admin kubeconfig (then it is left running). Under pytest-xdist (`-n 2`) each
worker is a session of its own with a cluster of its own (.cluster-test-gw0, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .cluster import REPO, LocalCluster, Settings
from .pki import TEST_USERS


@dataclass
class ClusterHandle:
    """What tests get: credentials per identity and control over components."""

    kubeconfig: Path
    users: dict[str, Path]
    local: LocalCluster | None

    @property
    def dir(self) -> Path:
        return self.kubeconfig.parent

    def api(self, user: str = "admin"):
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.users[user]))

    def dynamic(self, user: str = "admin"):
        from kubernetes.dynamic import DynamicClient

        return DynamicClient(self.api(user))

    def env(self, user: str = "admin") -> dict[str, str]:
        """Environment that points kubernetes.core (and the collection) at this cluster."""
        return {"K8S_AUTH_KUBECONFIG": str(self.users[user])}

    def restart(self, component: str) -> None:
        if self.local is None:
            pytest.skip("restarting a component needs a cluster started by localcluster")
        self.local.restart(component)


def _handle(local: LocalCluster) -> ClusterHandle:
    users = {u: local.user_kubeconfig(u) for u in TEST_USERS}
    return ClusterHandle(local.kubeconfig, users, local)


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterHandle]:
    given = os.environ.get("SANDBOXED_CONTAINERS_KUBECONFIG")
    if given:
        kc = Path(given).resolve()
        local = LocalCluster(kc.parent) if (kc.parent / "state.json").exists() else None
        users = {u: kc.parent / "users" / f"{u}.kubeconfig" for u in TEST_USERS}
        users["admin"] = kc
        yield ClusterHandle(kc, users, local)
        return
    directory = Path(os.environ.get("SANDBOXED_CONTAINERS_TEST_CLUSTER_DIR") or REPO / ".cluster-test")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # tests reset the cluster: workers never share one
    if worker:
        directory = directory.with_name(f"{directory.name}-{worker}")
    local = LocalCluster(directory)
    local.down()  # a cluster left behind by an interrupted session
    local.up(Settings.from_env())
    try:
        yield _handle(local)
    finally:
        local.down()
