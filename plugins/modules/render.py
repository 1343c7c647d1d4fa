#!/usr/bin/python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: render
short_description: Write the collection's objects as manifests, for openshift-install, GitOps or an ACM Policy
version_added: 1.0.0
description:
  - Writes into O(dest), as YAML files, the objects the install applies for the same settings, built by the
    same functions and checked by the same checks as the preflight's that need no cluster; it reads no cluster.
  - The objects are the MachineConfig C(50-sandboxed-containers) with the extension and the CRI-O drop-in, the
    custom pool when O(node_selector) is set, the RuntimeClass, and the admission policies and bindings when
    O(policy) has modes.
  - "O(target=openshift-install): files for the C(openshift/) directory of C(openshift-install create manifests),
    named as the installer names its own (C(99_openshift-machineconfig_<name>.yaml),
    C(99_openshift-machineconfigpool_<name>.yaml), C(99_sandboxed-containers_<kind>_<name>.yaml)). The cluster's
    first rendered config then has the MachineConfig, so every node gets the extension in its first boot, with no
    reboot of its own. A selector is refused there, since a node joins a custom pool only after its first boot."
  - O(target=gitops) writes the same files for a repository that Argo CD or OpenShift GitOps applies; a selector is
    accepted with a warning that it was checked against no node. O(target=acm-policy) writes one Advanced
    Cluster Management C(Policy) whose C(ConfigurationPolicy) holds each object as a C(musthave) template.
  - A directory that exists and holds other files is refused unless O(overwrite=true); then only the collection's
    own files (its names, every object labelled C(app.kubernetes.io/managed-by=sandboxed.containers)) are
    written, and those of an earlier render that this one does not write are removed. Other files are never
    touched.
author:
  - sandboxed.containers contributors (@sandboxed-containers)
options:
  dest:
    description: The directory; created when missing.
    type: path
    required: true
  overwrite:
    description: Write into a directory that holds other files, replacing and removing only the collection's own.
    type: bool
    default: false
  target:
    description: What the files are for.
    type: str
    choices: [openshift-install, gitops, acm-policy]
    default: openshift-install
  role:
    description:
      - Without O(node_selector), the pool the MachineConfig is for. V(master) on a compact or single-node
        cluster, whose masters run the workloads and whose worker pool has no node.
    type: str
    choices: [worker, master]
    default: worker
  os:
    description: The nodes' operating system, which names the extension (V(fcos) names C(kata-containers)).
    type: str
    choices: [rhcos, scos, fcos]
    default: rhcos
  acm_namespace:
    description: With O(target=acm-policy), the namespace of the Policy on the hub cluster.
    type: str
    default: policies
  acm_remediation:
    description: With O(target=acm-policy), V(inform) reports a cluster that differs; V(enforce) applies the objects.
    type: str
    choices: [inform, enforce]
    default: inform
  node_selector:
    description: As the preflight's O(sandboxed.containers.preflight#module:node_selector).
    type: dict
    default: {}
  pool_name:
    description: The custom pool, with O(node_selector).
    type: str
    default: kata-oc
  runtime_class_name:
    description: The RuntimeClass.
    type: str
    default: kata
  handler:
    description: The CRI-O runtime handler.
    type: str
    default: kata
  overhead:
    description: The RuntimeClass's C(overhead.podFixed).
    type: dict
    default: {cpu: 250m, memory: 350Mi}
  tolerations:
    description: The RuntimeClass's C(scheduling.tolerations).
    type: list
    elements: dict
    default: []
  crio_dropin:
    description: The CRI-O drop-in, as the roles render it from the C(sandboxed_containers_crio_*) settings.
    type: str
    required: true
  allow_non_vm_runtime:
    description: Accept a drop-in whose runtime does not run a VM.
    type: bool
    default: false
  max_unavailable:
    description: The custom pool's C(maxUnavailable).
    type: raw
extends_documentation_fragment:
  - sandboxed.containers.policy
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have, without writing a file.
    support: full
  diff_mode:
    description: Returns each file's text before and after when run with C(--diff).
    support: full
  idempotent:
    description: Running it again with the same arguments writes nothing and reports C(changed=false).
    support: full
notes:
  - Reads no cluster. What needs one (that a selector matches nodes, the nodes' CRI-O release, virtualization)
    is checked by the install, or by the status of the cluster the files made.
"""

EXAMPLES = r"""
- name: Manifests for openshift-install, into the directory of `openshift-install create manifests`
  sandboxed.containers.render:
    dest: "{{ install_dir }}/openshift"
    overwrite: true  # the installer's own files are there; they are never touched
    crio_dropin: "{{ sandboxed_containers_crio_dropin_content }}"
"""

RETURN = r"""
files:
  description: Every file of the render, in O(dest).
  returned: success
  type: list
  elements: str
written:
  description: The files this run wrote (would write, in check mode).
  returned: success
  type: list
  elements: str
removed:
  description: The collection's files of an earlier render that this one does not write, removed.
  returned: success
  type: list
  elements: str
objects:
  description: The objects rendered, as the install would apply them.
  returned: success
  type: list
  elements: dict
"""

import os
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.sandboxed.containers.plugins.module_utils._policy import POLICY_OPTIONS
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import Settings
from ansible_collections.sandboxed.containers.plugins.module_utils._render import (
    HAS_YAML,
    RenderError,
    RenderSettings,
    files_of,
    objects,
    plan_files,
)


def render_settings(p: dict) -> RenderSettings:
    s = Settings(node_selector=p["node_selector"], pool_name=p["pool_name"],
                 runtime_class_name=p["runtime_class_name"], handler=p["handler"], overhead=p["overhead"],
                 crio_dropin=p["crio_dropin"], max_unavailable=p["max_unavailable"])
    return RenderSettings(settings=s, allow_non_vm_runtime=p["allow_non_vm_runtime"], tolerations=p["tolerations"],
                          policy=p["policy"], target=p["target"], role=p["role"], os=p["os"],
                          acm_namespace=p["acm_namespace"], acm_remediation=p["acm_remediation"])


def read_dir(dest: Path) -> dict[str, str | None]:
    """name -> text of each entry (None: not a regular file, or not text)."""
    out: dict[str, str | None] = {}
    for entry in sorted(os.listdir(dest)):
        path = dest / entry
        try:
            out[entry] = path.read_text() if path.is_file() and not path.is_symlink() else None
        except (OSError, UnicodeDecodeError):
            out[entry] = None
    return out


def run(module: AnsibleModule) -> dict:
    p = module.params
    dest = Path(p["dest"])
    r = render_settings(p)
    objs, warnings = objects(r)
    desired = files_of(r, objs)
    for w in warnings:
        module.warn(w)
    if dest.exists() and not dest.is_dir():
        raise RenderError(f"sandboxed_containers_render_dir {dest} exists and is not a directory; choose a "
                          "directory. Nothing was written.")
    existing = read_dir(dest) if dest.exists() else {}
    plan = plan_files(existing, desired, p["overwrite"], str(dest))
    result = {"changed": bool(plan.write or plan.remove), "files": sorted(desired), "written": sorted(plan.write),
              "removed": plan.remove, "objects": objs}
    if module._diff:
        result["diff"] = [{"before_header": str(dest / n), "after_header": str(dest / n),
                           "before": existing.get(n) or "", "after": t} for n, t in sorted(plan.write.items())]
        result["diff"] += [{"before_header": str(dest / n), "after_header": "(removed)",
                            "before": existing.get(n) or "", "after": ""} for n in plan.remove]
    if module.check_mode:
        return result
    done: list[str] = []
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name, text in plan.write.items():
            tmp = dest / f".{name}.tmp"
            tmp.write_text(text)
            os.replace(tmp, dest / name)  # a reader (the installer, git) never sees half a file
            done.append(name)
        for name in plan.remove:
            (dest / name).unlink()
            done.append(f"{name} (removed)")
    except OSError as e:
        raise RenderError(f"cannot write {dest}: {e.strerror} ({e.filename}). Done before it: "
                          f"{', '.join(done) or 'nothing'}. Choose a directory you may write, or fix its "
                          "permissions, and run again: it writes what is missing.") from None
    return result


ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "overwrite": {"type": "bool", "default": False},
    "target": {"type": "str", "choices": ["openshift-install", "gitops", "acm-policy"], "default": "openshift-install"},
    "role": {"type": "str", "choices": ["worker", "master"], "default": "worker"},
    "os": {"type": "str", "choices": ["rhcos", "scos", "fcos"], "default": "rhcos"},
    "acm_namespace": {"type": "str", "default": "policies"},
    "acm_remediation": {"type": "str", "choices": ["inform", "enforce"], "default": "inform"},
    "node_selector": {"type": "dict", "default": {}},
    "pool_name": {"type": "str", "default": "kata-oc"},
    "runtime_class_name": {"type": "str", "default": "kata"},
    "handler": {"type": "str", "default": "kata"},
    "overhead": {"type": "dict", "default": {"cpu": "250m", "memory": "350Mi"}},
    "tolerations": {"type": "list", "elements": "dict", "default": []},
    "crio_dropin": {"type": "str", "required": True},
    "allow_non_vm_runtime": {"type": "bool", "default": False},
    "max_unavailable": {"type": "raw"},
    "policy": {"type": "dict", "options": POLICY_OPTIONS},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    try:
        module.exit_json(**run(module))
    except RenderError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
