"""The render controller's logic: one rendered MachineConfig per pool. Pure.

Follows pkg/controller/render/render_controller.go and MergeMachineConfigs /
ValidateMachineConfig in pkg/controller/common (mco.md section 2). Errors
carry the MCO's text; the caller prefixes "Failed to render configuration for
pool <p>: ".
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field

from . import ignition, selectors
from .constants import (
    CONTROLLER_VERSION,
    EXTENSIONS_IMAGE,
    GENERATED_BY,
    MCO_API,
    OS_IMAGE_URL,
    OS_IMAGE_URL_OVERRIDDEN,
    RELEASE_IMAGE_VERSION,
    RENDERED_PREFIX,
    ROLE_LABEL,
)
from .knobs import Knobs

KERNEL_TYPES = ("", "default", "realtime", "64k-pages")
MAX_MACHINE_CONFIG_SIZE = 1572864
# Fixed salt of the name hash (the MCO has its own 80-byte salt; the hashes
# cannot match a real cluster's anyway, mco.md 2.4).
_SALT = b"sandboxed.containers machine-config simulator: rendered config name salt, v1......"


class RenderError(Exception):
    """A render failure; str() is the MCO's error text."""


@dataclass
class Rendered:
    name: str
    machine_config: dict  # the object to create
    source: list[dict] = field(default_factory=list)  # spec.configuration.source, in merge order


def failing_message(pool_name: str, err: Exception | str) -> str:
    return f"Failed to render configuration for pool {pool_name}: {err}"


def _name(mc: dict) -> str:
    return mc["metadata"]["name"]


def _spec(mc: dict) -> dict:
    return mc.get("spec") or {}


def select_configs(pool: dict, mcs: list[dict]) -> list[dict]:
    """mcLister.List(selector) sorted by name; the rendered configs have no labels."""
    sel = (pool.get("spec") or {}).get("machineConfigSelector")
    if sel is None:
        return []
    out = [mc for mc in mcs if selectors.matches(sel, mc["metadata"].get("labels") or {})]
    return sorted(out, key=_name)


def validate_machine_config(spec: dict, knobs: Knobs) -> None:
    """ValidateMachineConfig: kernelType, the Ignition config, the extensions."""
    kt = spec.get("kernelType") or ""
    if kt not in KERNEL_TYPES:
        raise RenderError(f"kernelType={kt} is invalid")
    has_config = spec.get("config") is not None
    if has_config:
        try:
            ignition.validate_machine_config_ignition(spec["config"])
        except ignition.IgnitionError as e:
            raise RenderError(str(e)) from None
    exts = spec.get("extensions") or []
    check = {"ignition": has_config, "always": True, "daemon": False}[knobs.validation]
    if exts and check:
        validate_extensions(exts, knobs)


def validate_extensions(exts: list[str], knobs: Knobs) -> None:
    invalid = [e for e in exts if e not in knobs.extensions]
    if invalid:
        raise RenderError(f"invalid extensions found: {go_list(invalid)}")


def go_list(items: list[str]) -> str:
    """fmt's %v of a []string."""
    return "[" + " ".join(items) + "]"


def merge_order(configs: list[dict], worker_first: bool = True) -> list[dict]:
    """MergeMachineConfigs' order: from release-4.15 worker-role configs first, then the rest, each
    by name (helpers.go, commit 2750c2f20); release-4.14 sorts them all by name (helpers.go:81)."""
    if not worker_first:
        return sorted(configs, key=_name)
    for mc in configs:
        if mc["metadata"].get("labels") is None:
            raise RenderError(f"Cannot find label in MachineConfig {_name(mc)}")  # capital C, as in helpers.go
    workers = sorted((c for c in configs if c["metadata"]["labels"].get(ROLE_LABEL) == "worker"), key=_name)
    others = sorted((c for c in configs if c["metadata"]["labels"].get(ROLE_LABEL) != "worker"), key=_name)
    return workers + others


def merge_machine_configs(ordered: list[dict]) -> dict:
    """The merged spec of configs already in merge order."""
    ign_configs = []
    for mc in ordered:
        raw = _spec(mc).get("config")
        if raw is None:
            ign_configs.append(None)
            continue
        try:
            _report, cfg = ignition.parse(raw)
        except ignition.IgnitionError as e:
            raise RenderError(f"failed to parse Ignition config: {e}") from None
        ign_configs.append(cfg)
    merged_ign = ignition.merge_all(ign_configs)
    fips = any(bool(_spec(mc).get("fips")) for mc in ordered)
    kernel_type = ""
    for mc in ordered:
        if _spec(mc).get("kernelType") in ("realtime", "64k-pages"):
            kernel_type = _spec(mc)["kernelType"]
    kernel_type = kernel_type or "default"
    kargs: list[str] = []
    exts: list[str] = []
    for mc in ordered:
        kargs.extend(_spec(mc).get("kernelArguments") or [])
        exts.extend(_spec(mc).get("extensions") or [])
    if kernel_type != "default" and "kernel-devel" in exts:
        raise RenderError(f"installing kernel-devel extension is not supported with kernelType: {kernel_type}")
    os_image, ext_image = OS_IMAGE_URL, EXTENSIONS_IMAGE
    for mc in ordered:
        if (mc["metadata"].get("annotations") or {}).get(GENERATED_BY):
            continue  # only a user's MC may override the images
        os_image = _spec(mc).get("osImageURL") or os_image
        ext_image = _spec(mc).get("baseOSExtensionsContainerImage") or ext_image
    return {
        "osImageURL": os_image,
        "baseOSExtensionsContainerImage": ext_image,
        "kernelArguments": kargs,
        "config": merged_ign,
        "fips": fips,
        "kernelType": kernel_type,
        "extensions": exts,
    }


def spec_hash(spec: dict) -> str:
    return hashlib.md5(_SALT + json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def rendered_name(pool_name: str, spec: dict) -> str:
    return f"{RENDERED_PREFIX}{pool_name}-{spec_hash(spec)}"


def source_refs(ordered: list[dict]) -> list[dict]:
    return [{"apiVersion": MCO_API, "kind": "MachineConfig", "name": _name(mc)} for mc in ordered]


def generate(pool: dict, configs: list[dict], knobs: Knobs) -> Rendered:
    """generateRenderedMachineConfig."""
    for mc in configs:
        gen = (mc["metadata"].get("annotations") or {}).get(GENERATED_BY, "")
        if gen and gen != CONTROLLER_VERSION:
            raise RenderError(f"ignoring MC {_name(mc)} generated by older version {gen} "
                              f"(my version: {CONTROLLER_VERSION})")
    for mc in configs:
        validate_machine_config(_spec(mc), knobs)
    ordered = merge_order(configs, knobs.release.worker_first_merge)
    spec = merge_machine_configs(ordered)
    name = rendered_name(pool["metadata"]["name"], spec)
    annotations = {GENERATED_BY: CONTROLLER_VERSION, RELEASE_IMAGE_VERSION: knobs.release.full_version}
    if spec["osImageURL"] != OS_IMAGE_URL:
        annotations[OS_IMAGE_URL_OVERRIDDEN] = "true"
        if ((pool.get("spec") or {}).get("osImageStream") or {}).get("name"):
            raise RenderError("cannot override MachineConfig osImageURL and set MachineConfigPool "
                              "spec.osImageStream.name simultaneously")
    mc = {
        "apiVersion": MCO_API,
        "kind": "MachineConfig",
        "metadata": {
            "name": name,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": MCO_API, "kind": "MachineConfigPool", "name": pool["metadata"]["name"],
                "uid": pool["metadata"].get("uid", ""), "controller": True, "blockOwnerDeletion": True,
            }],
        },
        "spec": spec,
    }
    return Rendered(name, mc, source_refs(ordered))


# -- reconcilability (pkg/controller/common/reconcile.go) ----------------------

def _passwd_error(old: dict, new: dict) -> str | None:
    if ignition.canonical(old.get("groups")) != ignition.canonical(new.get("groups")):
        return "ignition Passwd Groups section contains changes"
    if ignition.canonical(old.get("users")) != ignition.canonical(new.get("users")):
        users = new.get("users") or []
        for u in users:
            if u.get("name") != "core":
                return "ignition passwd user section contains unsupported changes: non-core user"
        if users:
            last = dict(users[-1])
            if last.get("name") == "core" and (last.get("passwordHash") is not None
                                               or len(last.get("sshAuthorizedKeys") or []) >= 1):
                for k in ("name", "sshAuthorizedKeys", "passwordHash"):
                    last.pop(k, None)
                if ignition.canonical(last):
                    return "SSH keys and password hash are not reconcilable"
            else:
                return ("ignition passwd user section contains unsupported changes: user must be core "
                        "and have 1 or more sshKeys")
    return None


def config_reconcile_error(old_ign: dict, new_ign: dict, old_spec: dict, new_spec: dict) -> str | None:
    """isConfigReconcilable: the changes a running node cannot take."""
    c = ignition.canonical
    op, np_ = old_ign.get("passwd") or {}, new_ign.get("passwd") or {}
    if c(op) != c(np_):
        err = _passwd_error(op, np_)
        if err:
            return f"invalid passwd change(s): {err}"
    if c(old_ign.get("kernelArguments")) != c(new_ign.get("kernelArguments")):
        return "ignition kargs section contains changes"
    os_, ns = old_ign.get("storage") or {}, new_ign.get("storage") or {}
    for section in ("disks", "filesystems", "raid", "directories"):
        if c(os_.get(section)) != c(ns.get(section)):
            return f"ignition {section} section contains changes"
    if c(os_.get("links")) != c(ns.get("links")) and ns.get("links"):
        return "ignition links section contains changes"
    for f in ns.get("files") or []:
        if f.get("append"):
            return f"ignition file {f.get('path')} includes append"
        if f.get("path") == "/run/machine-config-daemon-force":
            return "cannot create /run/machine-config-daemon-force via Ignition"
    if bool(old_spec.get("fips")) != bool(new_spec.get("fips")):
        return "detected change to FIPS flag; refusing to modify FIPS on a running cluster"
    return None


def _reconcile_one(old_mc: dict, old_ign: dict, new_mc: dict) -> str | None:
    raw = _spec(new_mc).get("config")
    try:
        new_ign = ignition.parse(raw)[1] if raw is not None else ignition.empty_config()
    except ignition.IgnitionError as e:
        return f'parsing new Ignition config from machineconfig "{_name(new_mc)}" failed: {e}'
    err = config_reconcile_error(old_ign, new_ign, _spec(old_mc), _spec(new_mc))
    if err:
        # The MCO passes the two names the other way round; kept as it is.
        return f'new machineconfig "{_name(old_mc)}" is not reconcilable against "{_name(new_mc)}": {err}'
    return None


def reconcile_check(current: dict, generated: dict, ordered: list[dict]) -> None:
    """generateAndValidateRenderedMachineConfig's check against the pool's current config."""
    try:
        old_ign = ignition.parse(_spec(current).get("config"))[1]
    except ignition.IgnitionError as e:
        raise RenderError(f'render reconciliation error: parsing old Ignition config from machineconfig '
                          f'"{_name(current)}" failed: {e}; component errors: <nil>') from None
    full = _reconcile_one(current, old_ign, generated)
    if full is None:
        return
    for mc in ordered:
        single = _reconcile_one(current, old_ign, mc)
        if single is None:
            continue
        parts = single.split(": ", 1)
        if len(parts) == 2 and parts[1] in full:
            raise RenderError(f'reconciliation failed between current config "{_name(current)}" and base '
                              f'config "{_name(mc)}": {parts[1]}')
    comp = next((e for e in (_reconcile_one(current, old_ign, mc) for mc in ordered) if e), None)
    raise RenderError(f"render reconciliation error: {full}; component errors: {comp or '<nil>'}")


def render(pool: dict, mcs: list[dict], knobs: Knobs, current: dict | None) -> Rendered:
    """syncMachineConfigPool's render path. `current` is the pool's current rendered MC, if any.

    Raises RenderError with the text that follows "Failed to render
    configuration for pool <p>: ".
    """
    configs = select_configs(pool, mcs)
    if not configs:
        sel = selectors.to_string((pool.get("spec") or {}).get("machineConfigSelector"))
        raise RenderError(f"no MachineConfigs found matching selector {sel}")
    try:
        rendered = generate(pool, configs, knobs)
        if current is not None:
            reconcile_check(current, rendered.machine_config,
                            merge_order(configs, knobs.release.worker_first_merge))
    except RenderError as e:
        raise RenderError(f"could not generate rendered MachineConfig: {e}") from None
    size = len(json.dumps(rendered.machine_config, separators=(",", ":")))
    if size > MAX_MACHINE_CONFIG_SIZE:
        raise RenderError(
            f"size validation failed: rendered MachineConfig {rendered.name} is too large ({size} bytes, max "
            f"{MAX_MACHINE_CONFIG_SIZE} bytes). This will exceed etcd's size limit. Consider reducing the "
            "number or size of MachineConfigs, particularly large registry mirror configurations "
            "(ImageDigestMirrorSet/ImageContentSourcePolicy)")
    return rendered


def rendered_config(mc: dict | None) -> dict:
    """The Ignition config of a rendered MC (an empty one if there is none)."""
    if mc is None:
        return ignition.empty_config()
    raw = _spec(mc).get("config")
    if raw is None:
        return ignition.empty_config()
    try:
        return ignition.parse(raw)[1]
    except ignition.IgnitionError:
        return copy.deepcopy(raw)
