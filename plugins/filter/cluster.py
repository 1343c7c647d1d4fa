# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Inventory hosts that are one cluster (documentation: same_clusters.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sandboxed.containers.plugins.module_utils._connection import same_clusters as _same


def same_clusters(identities: object) -> list[str]:
    if not isinstance(identities, dict):
        raise AnsibleFilterError("same_clusters expects a mapping of inventory host to cluster_info's result")
    return _same({str(k): v if isinstance(v, dict) else {} for k, v in identities.items()})


class FilterModule:
    def filters(self) -> dict:
        return {"same_clusters": same_clusters}
