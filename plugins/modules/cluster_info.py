#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_info
short_description: Which cluster the run talks to, and where the connection comes from
version_added: 1.0.0
description:
  - Connects as every module of the collection does and returns the cluster's identity, the API server URL and
    the C(spec.clusterID) of the ClusterVersion C(version), with where the connection came from. The collection's
    roles run it first, print it, and record it in the report; the fleet playbook (C(playbooks/fleet.yml))
    refuses two hosts that are the same cluster.
  - "The connection is taken whole from one source, never mixed: the task's options (in the collection's
    playbooks, the play's variables) when any is set, else the C(K8S_AUTH_*) environment, else the default
    kubeconfig (C(KUBECONFIG) or C(~/.kube/config)) or the pod's service account. It fails, naming the
    variables, when a source is incomplete or names a cluster two ways (a kubeconfig and an API server URL)."
  - Returns no credentials and no kubeconfig content, only variable names.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options: {}
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
attributes:
  check_mode:
    support: full
    details: It changes nothing in any mode.
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Which cluster is this
  sandboxed.containers.cluster_info:
  register: cluster

- name: Show it
  ansible.builtin.debug:
    msg: "{{ cluster.msg }}"
"""

RETURN = r"""
api_url:
  description: The API server URL the client talks to.
  returned: success
  type: str
  sample: https://api.example.openshift.com:6443
cluster_id:
  description: C(spec.clusterID) of the ClusterVersion C(version); null where it cannot be read (not OpenShift,
    or no right to read it).
  returned: success
  type: str
  sample: 3f0e8b1c-1a2b-4c3d-8e9f-0a1b2c3d4e5f
release:
  description: The OpenShift release the ClusterVersion reports, or null.
  returned: success
  type: str
  sample: 4.16.3
connection:
  description: Where the connection comes from, V(options), V(environment) or V(default); the variables that
    gave it (C(given_by)), and the C(K8S_AUTH_*) variables set in the environment but not used (C(ignored)).
  returned: success
  type: dict
  sample: {"source": "options", "given_by": ["sandboxed_containers_kubeconfig"], "ignored": ["K8S_AUTH_KUBECONFIG"]}
msg:
  description: One line for the run's output, e.g. C(Cluster https://api.example:6443, cluster ID 3f0e...,
    OpenShift 4.16.3; connection from the play's variables (sandboxed_containers_kubeconfig)).
  returned: success
  type: str
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._connection import PLAY_VARIABLES
from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import cluster_release


def identify(cluster: Cluster) -> dict:
    try:
        version = cluster.get("config.openshift.io/v1", "ClusterVersion", "version")
    except ClusterError:
        version = None  # not served (not OpenShift) or not readable: the API server URL still names the cluster
    cluster_id = ((version or {}).get("spec") or {}).get("clusterID") or None
    release = cluster_release(version)
    conn = cluster.connection
    parts = [f"Cluster {cluster.host}",
             f"cluster ID {cluster_id}" if cluster_id else "no cluster ID (the ClusterVersion cannot be read)"]
    if release:
        parts.append(f"OpenShift {release.text}")
    msg = ", ".join(parts) + f"; connection from {conn.describe(PLAY_VARIABLES)}"
    return {
        "changed": False,
        "api_url": cluster.host,
        "cluster_id": cluster_id,
        "release": release.text if release else None,
        "connection": {"source": conn.source,
                       "given_by": [PLAY_VARIABLES.get(n, n) for n in conn.given_by],
                       "ignored": list(conn.ignored)},
        "msg": msg,
    }


ARGUMENT_SPEC = {}


def main() -> None:
    run_module(ARGUMENT_SPEC, identify)


if __name__ == "__main__":
    main()
