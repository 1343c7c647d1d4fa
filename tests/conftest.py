"""Shared fixtures: the local cluster (tests/cluster/localcluster)."""

from localcluster.pytest_plugin import ClusterHandle, cluster

__all__ = ["ClusterHandle", "cluster"]
