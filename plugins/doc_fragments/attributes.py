# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)


class ModuleDocFragment:
    """Descriptions of the attributes every module of the collection declares."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have, without changing the cluster.
  diff_mode:
    description: Returns what changed (or would change in check mode) when run with C(--diff).
  idempotent:
    description: Running it again with the same arguments changes nothing and reports C(changed=false).
  action_group:
    description: Use C(group/sandboxed.containers.sandboxed_containers) in C(module_defaults) to set the
      connection options once for every module of the collection.
    support: full
    membership:
      - sandboxed.containers.sandboxed_containers
"""
