# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The collection's objects as manifests (no I/O): for openshift-install's `openshift/` directory (day 0), for a Git
repository that Argo CD or OpenShift GitOps applies, or wrapped in an Advanced Cluster Management Policy.

The objects come from the builders the install's modules call (_objects, _policy), with the settings normalised
the way those modules normalise them, so a rendered object equals, field by field, what the install applies.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - ansible-core itself needs PyYAML; reported by the module
    HAS_YAML = False

from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    ACM_API,
    MACHINE_CONFIG_NAME,
    MANAGED_BY,
    VERSION_ANNOTATION,
    node_role_label,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import (
    custom_pool,
    is_managed,
    machine_config,
    runtime_class,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._platform import UnsupportedOS, extension_for
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    SETTINGS_ANNOTATION,
    PolicyError,
    resolve,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import objects as policy_objects
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import (
    PreflightError,
    Settings,
    check_offline,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._selector import is_empty
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION

TARGETS = ("openshift-install", "gitops", "acm-policy")
ROLES = ("worker", "master")
OSES = ("rhcos", "scos", "fcos")
OS_IDS = {"rhcos": "rhcos", "scos": "scos", "fcos": "fedora"}  # os-release ID, as _platform.extension_for reads it

ACM_POLICY_NAME = "sandboxed-containers"
ACM_REMEDIATIONS = ("inform", "enforce")

# openshift-install's own names for the MachineConfigs and pools it writes into openshift/ (installer
# pkg/asset/machines/machineconfig/machineconfig.go, machineConfigFileName and machineConfigPoolFileName); the other
# objects follow the same <order>_<component>_<kind>_<name> shape. 99: after the installer's manifests.
FILE_PREFIXES = ("99_openshift-machineconfig_", "99_openshift-machineconfigpool_", "99_sandboxed-containers_")
ACM_FILE = "99_sandboxed-containers_acm-policy.yaml"


class RenderError(Exception):
    """Settings that cannot be rendered; the message says what is wrong and how to fix it."""


@dataclass
class RenderSettings:
    settings: Settings  # the install's settings (_preflight.Settings), checked the same way
    allow_non_vm_runtime: bool = False
    tolerations: list[dict] | None = None
    policy: dict | None = None  # sandboxed_containers_policy; None or no modes: no admission policy
    target: str = "openshift-install"
    role: str = "worker"  # the pool the MachineConfig is for without a selector: worker, or master (compact, SNO)
    os: str = "rhcos"
    acm_namespace: str = "policies"
    acm_remediation: str = "inform"


def check(r: RenderSettings) -> tuple[dict, dict, object, list[str]]:
    """The preflight's checks that need no cluster, and the render's own; returns (selector, overhead,
    max_unavailable, warnings). Raises RenderError."""
    if r.target not in TARGETS:
        raise RenderError(f"sandboxed_containers_render_target {r.target!r} must be one of {', '.join(TARGETS)}")
    if r.role not in ROLES:
        raise RenderError(f"sandboxed_containers_render_role {r.role!r} must be worker, or master for a compact "
                          "or single-node cluster, whose masters run the workloads")
    if r.os not in OSES:
        raise RenderError(f"sandboxed_containers_render_os {r.os!r} must be one of {', '.join(OSES)}")
    if r.acm_remediation not in ACM_REMEDIATIONS:
        raise RenderError(f"sandboxed_containers_render_acm_remediation {r.acm_remediation!r} must be inform or "
                          "enforce")
    try:
        selector, overhead, mu = check_offline(r.settings, allow_non_vm_runtime=r.allow_non_vm_runtime,
                                               policy=r.policy)
    except (PreflightError, PolicyError) as e:
        raise RenderError(f"{e}. Nothing was written.") from None
    custom = not is_empty(selector)
    warnings = []
    if custom and r.target == "openshift-install":
        # A node joins the pool its MachineSet's user data names (/config/worker) and boots that pool's rendered
        # config; a label given later moves it into the custom pool, which differs by our MachineConfig: one more
        # drain and reboot, the very reboot day 0 is for.
        raise RenderError(
            "sandboxed_containers_node_selector chooses nodes through the custom pool "
            f"{r.settings.pool_name}, which a node can join only after its first boot: it boots the worker pool's "
            "rendered config (its MachineSet's user data names /config/worker) and would reboot once more when "
            f"it gets {node_role_label(r.settings.pool_name)}, so day 0 would save nothing. Render for day 0 "
            "without a selector (every worker, or sandboxed_containers_render_role: master on a compact cluster), "
            "or render with sandboxed_containers_render_target: gitops and let the install move the chosen nodes "
            "after the cluster is up. Nothing was written.")
    if custom:
        warnings.append(
            "sandboxed_containers_node_selector was not checked against nodes (the render reads no cluster): the "
            f"pool {r.settings.pool_name} takes only nodes labelled {node_role_label(r.settings.pool_name)}, which "
            "the install gives the nodes the selector matches; nothing in the rendered files labels them")
    policy = r.policy or {}
    if policy.get("modes") and policy.get("verify_users") is None:
        warnings.append(
            "sandboxed_containers_policy.verify_users is not set: the install would default it to whoever applies "
            "the policy, which a render cannot know, so the rendered policy lets no one run the verify pod outside "
            "the allowed namespaces; set it to the identity that runs playbooks/verify.yml")
    return (selector if custom else {}), overhead, mu, warnings


def extension(os_name: str) -> str:
    try:
        return extension_for(OS_IDS[os_name], None, None)
    except UnsupportedOS as e:
        raise RenderError(f"sandboxed_containers_render_os {os_name}: {e}") from None


def objects(r: RenderSettings, *, version: str = COLLECTION_VERSION) -> tuple[list[dict], list[str]]:
    """The objects the install applies for these settings, in the order it applies them, and the warnings."""
    selector, overhead, mu, warnings = check(r)
    s = r.settings
    role = s.pool_name if selector else r.role
    out = [machine_config(role, s.crio_dropin or "", name=MACHINE_CONFIG_NAME, extensions=[extension(r.os)],
                          version=version)]
    if selector:
        out.append(custom_pool(s.pool_name, max_unavailable=mu, version=version))
    rc = runtime_class(s.runtime_class_name, s.handler, overhead, tolerations=r.tolerations, version=version)
    policy = r.policy if (r.policy or {}).get("modes") else None
    if policy is not None:
        resolved = resolve(policy, None)
        out += policy_objects(resolved, s.runtime_class_name, s.handler, version=version)
        # The admission_policy module records the settings it applied on the RuntimeClass, from which a later
        # run restores a policy deleted by hand.
        rc["metadata"]["annotations"][SETTINGS_ANNOTATION] = json.dumps(resolved, sort_keys=True)
    out.append(rc)
    return out, warnings


def file_name(obj: dict) -> str:
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind == "MachineConfig":
        return f"99_openshift-machineconfig_{name}.yaml"
    if kind == "MachineConfigPool":
        return f"99_openshift-machineconfigpool_{name}.yaml"
    return f"99_sandboxed-containers_{kind.lower()}_{name}.yaml"


def acm_policy(objs: list[dict], namespace: str, remediation: str, *, version: str = COLLECTION_VERSION) -> dict:
    """One Policy whose ConfigurationPolicy has each object as a musthave template: the fields rendered must be
    there, others the cluster adds (the MCO's, the API server's) are left alone."""
    return {
        "apiVersion": ACM_API,
        "kind": "Policy",
        "metadata": {
            "name": ACM_POLICY_NAME,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {
                VERSION_ANNOTATION: version,
                "policy.open-cluster-management.io/standards": "NIST SP 800-53",
                "policy.open-cluster-management.io/categories": "CM Configuration Management",
                "policy.open-cluster-management.io/controls": "CM-2 Baseline Configuration",
            },
        },
        "spec": {
            "disabled": False,
            "remediationAction": remediation,
            "policy-templates": [{"objectDefinition": {
                "apiVersion": ACM_API,
                "kind": "ConfigurationPolicy",
                "metadata": {"name": ACM_POLICY_NAME},
                "spec": {
                    "remediationAction": remediation,
                    "severity": "medium",
                    "object-templates": [{"complianceType": "musthave", "objectDefinition": o} for o in objs],
                },
            }}],
        },
    }


def dump(obj: dict) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=120)


def files(r: RenderSettings, *, version: str = COLLECTION_VERSION) -> tuple[dict[str, str], list[str]]:
    """File name -> text for the target, and the warnings."""
    objs, warnings = objects(r, version=version)
    return files_of(r, objs, version=version), warnings


def files_of(r: RenderSettings, objs: list[dict], *, version: str = COLLECTION_VERSION) -> dict[str, str]:
    """File name -> text of the objects (as `objects` returned them) for the target."""
    if r.target == "acm-policy":
        return {ACM_FILE: dump(acm_policy(objs, r.acm_namespace, r.acm_remediation, version=version))}
    return {file_name(o): dump(o) for o in objs}


def is_own_file(name: str, text: str | None) -> bool:
    """A file of the collection's: one of its names, and every object in it carries the collection's label (a file
    of someone else's that happens to have such a name is not)."""
    if not name.startswith(FILE_PREFIXES) or text is None:
        return False
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return False
    return bool(docs) and all(isinstance(d, dict) and is_managed(d) for d in docs)


@dataclass
class FilePlan:
    write: dict[str, str]  # name -> new text, for the files that are new or differ
    remove: list[str]  # the collection's files of an earlier render that this one does not write
    unchanged: list[str]


def plan_files(existing: dict[str, str | None], desired: dict[str, str], overwrite: bool, where: str) -> FilePlan:
    """What to write into a directory holding `existing` (name -> text; None for what is not a readable file).

    Without overwrite, a directory holding anything but exactly these files is refused (a re-render with the same
    settings changes nothing). With overwrite, the collection's own files are written and its stale ones removed;
    other files are never touched."""
    own = {n for n, t in existing.items() if is_own_file(n, t)}
    others = sorted(set(existing) - own)
    stale = sorted(own - set(desired))
    if not overwrite and (others or stale or any(existing[n] != desired[n] for n in set(desired) & own)):
        held = others + [n for n in sorted(own) if n not in desired or existing[n] != desired[n]]
        raise RenderError(
            f"sandboxed_containers_render_dir {where} exists and holds other files ({', '.join(held[:8])}"
            f"{', ...' if len(held) > 8 else ''}). Set sandboxed_containers_render_overwrite: true to write the "
            "collection's files there (it replaces and removes only files of the collection's, never others), or "
            "choose an empty or new directory. Nothing was written.")
    clash = sorted(n for n in desired if n in existing and n not in own)
    if clash:
        raise RenderError(
            f"sandboxed_containers_render_dir {where} holds {', '.join(clash)}, which the collection would write "
            "but which is not the collection's (an object in it lacks the label "
            f"{next(iter(MANAGED_BY))}={next(iter(MANAGED_BY.values()))}): the collection never overwrites another's "
            "file. Move it away, or choose another directory. Nothing was written.")
    write = {n: t for n, t in desired.items() if existing.get(n) != t}
    return FilePlan(write=write, remove=stale, unchanged=sorted(set(desired) - set(write)))
