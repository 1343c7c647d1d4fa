#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: machine_config
short_description: The MachineConfig that installs the sandboxed-containers extension and the CRI-O drop-in
version_added: 1.0.0
description:
  - Creates, updates or deletes the one MachineConfig of the collection. It carries the RHCOS extension
    C(sandboxed-containers) (Kata Containers; C(kata-containers) on Fedora CoreOS) and the CRI-O drop-in
    C(/etc/crio/crio.conf.d/51-sandboxed-containers) (mode 0644, an Ignition 3.2.0 data URL) that defines the
    runtime handler. It sorts after the kata RPM's own C(50-kata), whose handler table it replaces.
  - The drop-in is checked before anything changes, as CRI-O would read it; it must hold only a
    C([crio.runtime.runtimes.<handler>]) table whose keys CRI-O knows, with values of the right type.
  - It acts only on a MachineConfig that carries the collection's label
    C(app.kubernetes.io/managed-by=sandboxed.containers). One of the same name without it is refused before any
    change unless O(adopt=true), and left alone, with a warning, by O(state=absent).
  - Writes use server-side apply; in check mode they are server-side dry runs. With C(--diff) the
    drop-in is shown decoded, not as a data URL.
  - Creating or changing it makes the Machine Config Operator roll out a new rendered config to every
    node of the pools that select its role; use M(sandboxed.containers.pool_wait) to wait for that.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  name:
    description: Name of the MachineConfig.
    type: str
    default: 50-sandboxed-containers
  role:
    description:
      - The value of its C(machineconfiguration.openshift.io/role) label, which decides the pools that
        select it, for example V(worker), V(master) or the name of a custom pool.
      - Required with O(state=present).
    type: str
  crio_dropin:
    description:
      - The content of the CRI-O drop-in. The C(install) role renders it from its template.
      - Required with O(state=present).
    type: str
  handler:
    description: The runtime handler the drop-in must define.
    type: str
    default: kata
  extensions:
    description: RHCOS extensions to install.
    type: list
    elements: str
    default: [sandboxed-containers]
  version:
    description: Value of the C(sandboxed.containers/version) annotation; defaults to the collection's version.
    type: str
  state:
    description: Whether the MachineConfig exists.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - With O(state=present), take over a MachineConfig of this name that the collection did not create; it gets
        the collection's label and content.
      - O(state=absent) never deletes such a MachineConfig.
    type: bool
    default: false
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - sandboxed.containers.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Install Kata on the nodes of the kata-oc pool
  sandboxed.containers.machine_config:
    role: kata-oc
    crio_dropin: >-
      {{ 'kata' | sandboxed.containers.crio_dropin(runtime_path='/usr/bin/containerd-shim-kata-v2',
         runtime_type='vm', runtime_root='/run/vc') }}

- name: Remove it
  sandboxed.containers.machine_config:
    state: absent
"""

RETURN = r"""
msg:
  description: Why nothing was done, for a MachineConfig the collection did not create.
  returned: when it was left alone
  type: str
result:
  description: The MachineConfig as the API server returned it (empty when absent).
  returned: success
  type: dict
  sample: {"kind": "MachineConfig", "metadata": {"name": "50-sandboxed-containers"}}
diff:
  description: Before and after, with the drop-in decoded. Only with C(--diff).
  returned: changed and diff mode
  type: dict
"""

from ansible_collections.sandboxed.containers.plugins.module_utils._crio import DropinError, check_crio_dropin
from ansible_collections.sandboxed.containers.plugins.module_utils._k8s import Cluster, ClusterError, run_module
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    DEFAULT_HANDLER,
    MACHINE_CONFIG_NAME,
    MC_API,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    is_managed,
    leave_foreign,
    machine_config,
    refuse_foreign,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION


def ensure(cluster: Cluster) -> dict:
    p = cluster.task.params
    existing = cluster.get(MC_API, "MachineConfig", p["name"])
    if p["state"] == "absent":
        if existing is not None and not is_managed(existing):
            # Someone else's: never the collection's to delete.
            cluster.task.warn(leave_foreign("MachineConfig", p["name"]))
            return {"changed": False, "result": {}, "msg": leave_foreign("MachineConfig", p["name"])}
        changed, diff = cluster.delete(MC_API, "MachineConfig", p["name"])
        return {"changed": changed, "result": {}, "diff": diff}
    try:
        check_crio_dropin(p["crio_dropin"], p["handler"])
    except DropinError as e:
        raise ClusterError(f"{e}; nothing was changed") from None
    if existing is not None and not is_managed(existing) and not p["adopt"]:
        raise ClusterError(refuse_foreign("MachineConfig", p["name"]))
    mc = machine_config(p["role"], p["crio_dropin"], name=p["name"], extensions=p["extensions"],
                        version=p["version"] or COLLECTION_VERSION)
    changed, result, diff = cluster.apply(mc)
    return {"changed": changed, "result": result, "diff": diff}


ARGUMENT_SPEC = {
    "name": {"type": "str", "default": MACHINE_CONFIG_NAME},
    "role": {"type": "str"},
    "crio_dropin": {"type": "str"},
    "handler": {"type": "str", "default": DEFAULT_HANDLER},
    "extensions": {"type": "list", "elements": "str", "default": ["sandboxed-containers"]},
    "version": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "adopt": {"type": "bool", "default": False},
}
VALIDATION = {"required_if": [("state", "present", ("role", "crio_dropin"))]}


def main() -> None:
    run_module(ARGUMENT_SPEC, ensure, **VALIDATION)


if __name__ == "__main__":
    main()
