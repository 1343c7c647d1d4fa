"""The local control plane of the test cluster: real etcd, kube-apiserver,
kube-controller-manager and kube-scheduler built from Go modules."""

from .cluster import ClusterError, LocalCluster, Settings

__all__ = ["ClusterError", "LocalCluster", "Settings"]
