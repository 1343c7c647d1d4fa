# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The CRI-O drop-in, checked as CRI-O will read it on the nodes, before anything changes. Pure.

A mistake in the drop-in shows on a real node only after its reboot, where nothing can report it: a value of
the wrong type makes crio exit ("unable to decode configuration ..."), the kubelet cannot start without the
CRI socket, the node stays NotReady and the machine-config daemon (a pod) never runs there again; an invalid
handler is dropped with a warning in CRI-O's log, and sandboxed pods fail with FailedCreatePodSandBox. So
every key of the handler's table is checked by name, type and value against CRI-O's RuntimeHandler of the
release the nodes run (cri-o pkg/config/config.go, branches release-1.27 to release-1.34; OpenShift 4.14 ships
CRI-O 1.27, each later OpenShift minor the next CRI-O minor).

CRI-O itself ignores a key it does not know, without a word (its toml.Decode metadata is discarded), so a
misspelt or too-new key would silently do nothing: refused here instead.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import math
import posixpath
import re

try:
    import tomllib
except ImportError:  # pragma: no cover - Python < 3.11
    tomllib = None

OLDEST = (1, 27, 0)  # the CRI-O of OpenShift 4.14, the oldest release the collection supports

STR, BOOL, LIST, MAP = "string", "bool", "list of strings", "table of strings"
# Key -> (type, first CRI-O version that reads it). Some came in a patch release of their branch.
HANDLER_KEYS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "runtime_path": (STR, OLDEST),
    "runtime_type": (STR, OLDEST),
    "runtime_root": (STR, OLDEST),
    "runtime_config_path": (STR, OLDEST),
    "privileged_without_host_devices": (BOOL, OLDEST),
    "allowed_annotations": (LIST, OLDEST),
    "monitor_path": (STR, OLDEST),
    "monitor_cgroup": (STR, OLDEST),
    "monitor_env": (LIST, OLDEST),
    "monitor_exec_cgroup": (STR, OLDEST),
    "platform_runtime_paths": (MAP, (1, 27, 2)),
    "runtime_pull_image": (BOOL, (1, 28, 4)),
    "container_min_memory": (STR, (1, 29, 3)),
    "no_sync_log": (BOOL, (1, 31, 0)),
    "inherit_default_runtime": (BOOL, (1, 31, 3)),
    "default_annotations": (MAP, (1, 31, 4)),
    "stream_websockets": (BOOL, (1, 34, 0)),
    "exec_cpu_affinity": (STR, (1, 34, 0)),
    "seccomp_profile": (STR, (1, 34, 0)),
}
PATH_KEYS = ("runtime_path", "runtime_root", "runtime_config_path", "monitor_path", "seccomp_profile")
RUNTIME_TYPES = ("oci", "vm", "pod")
# RuntimeTypeVMBinaryPattern, matched (unanchored) against the base name of runtime_path of a "vm" handler.
VM_BINARY = re.compile(r"containerd-shim-([a-zA-Z0-9\-+])+-v2")
# pkg/annotations AllAllowedAnnotations: allowed_annotations must name these exactly, or CRI-O drops the handler
# ("invalid allowed_annotation: ..."); value -> first CRI-O minor that has it.
ALLOWED_ANNOTATIONS: dict[str, tuple[int, int]] = {
    **dict.fromkeys((
        "io.kubernetes.cri-o.userns-mode", "io.kubernetes.cri-o.cgroup2-mount-hierarchy-rw",
        "io.kubernetes.cri-o.UnifiedCgroup", "io.kubernetes.cri-o.ShmSize", "io.kubernetes.cri-o.Devices",
        "cpu-load-balancing.crio.io", "cpu-quota.crio.io", "irq-load-balancing.crio.io",
        "io.containers.trace-syscall", "io.kubernetes.cri.rdt-class",
        "io.kubernetes.cri-o.TrySkipVolumeSELinuxLabel", "cpu-c-states.crio.io", "cpu-freq-governor.crio.io",
        "io.kubernetes.cri-o.seccompNotifierAction", "io.kubernetes.cri-o.umask", "io.kubernetes.cri-o.LinkLogs",
        "bundle", "org.systemd.property.", "org.criu.config", "module.wasm.image/variant",
        "io.kubernetes.cri.container-type", "run.oci."), (1, 27)),
    **dict.fromkeys(("io.kubernetes.cri-o.PodLinuxOverhead", "io.kubernetes.cri-o.PodLinuxResources",
                     "cpu-shared.crio.io"), (1, 28)),
    **dict.fromkeys(("seccomp-profile.kubernetes.cri-o.io", "io.kubernetes.cri-o.DisableFIPS"), (1, 30)),
}
EXEC_CPU_AFFINITY = ("", "first")
_CRIO_VERSION = re.compile(r"^(?:cri-o://)?v?(\d+)\.(\d+)(?:\.(\d+))?")


# RuntimeClass.handler must be a DNS-1123 label (kubernetes pkg/apis/node/validation ValidateRuntimeClass), and the
# name is a bare key of the TOML table header: lowercase letters, digits and '-', no dots, brackets or quotes.
_HANDLER = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # fullmatch: "$" would let a newline end it
# The collection's own settings of the table, in the order the drop-in has always listed them.
MANAGED_HEADER = ("# Managed by sandboxed.containers (Ansible); local changes are overwritten by the Machine Config "
                  "Operator.")
OWN_KEYS = ("runtime_path", "runtime_type", "runtime_root", "privileged_without_host_devices",
            "runtime_config_path", "allowed_annotations")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class DropinError(ValueError):
    """The CRI-O drop-in is not what CRI-O would accept for the handler."""


def parse_crio_version(text: str | None) -> tuple[int, int, int] | None:
    """cri-o://1.29.5-3.rhaos4.16.gitabc.el9 -> (1, 29, 5)."""
    m = _CRIO_VERSION.match(text or "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else None


def crio_version(nodes: list[dict], release=None) -> tuple[int, int, int]:
    """The oldest CRI-O the nodes report (nodeInfo.containerRuntimeVersion); else the release's, else 1.27."""
    found = [v for v in (parse_crio_version(((n.get("status") or {}).get("nodeInfo") or {}).get(
        "containerRuntimeVersion")) for n in nodes) if v]
    if found:
        return min(found)
    if release is not None:
        return (1, release.minor + 13, 0)  # 4.14 -> 1.27, the CRI-O minor follows the Kubernetes minor
    return OLDEST


def _version_text(v: tuple[int, int, int]) -> str:
    return ".".join(str(x) for x in v)


def _type_ok(kind: str, value: object) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == LIST:
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    return isinstance(value, dict) and all(isinstance(x, str) for x in value.values())


def _toml_type(value: object) -> str:
    for t, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"), (list, "array"),
                    (dict, "table")):
        if isinstance(value, t):
            return name
    return type(value).__name__


NEWEST = (1, 34, 0)


def _has_control_character(value: object) -> bool:
    if isinstance(value, str):
        return any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    if isinstance(value, list):
        return any(_has_control_character(v) for v in value)
    if isinstance(value, dict):
        return any(_has_control_character(k) or _has_control_character(v) for k, v in value.items())
    return False


def check_handler(handler: object) -> str:
    """The CRI-O handler name: a DNS label, as RuntimeClass.handler must be, so a bare key of the table header."""
    if not isinstance(handler, str) or not _HANDLER.fullmatch(handler):
        raise DropinError(
            f"sandboxed_containers_handler {handler!r} must be a DNS label (lowercase letters, digits and '-', at "
            "most 63 characters, e.g. kata), as RuntimeClass.handler must be; CRI-O reads it as the name of its "
            "table [crio.runtime.runtimes.<handler>]"
        )
    return handler


def toml_literal(value: object, where: str = "value") -> str:
    """A TOML literal for a value of a CRI-O handler key: string, boolean, integer, array or inline table of
    strings, always quoted and escaped, so that no value can end its line and start another key or table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        # A basic string; TOML forbids the control characters but tab unescaped, DEL included.
        return '"' + "".join(_TOML_ESCAPES.get(c) or (f"\\u{ord(c):04X}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
                             for c in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_literal(v, where) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_literal(str(k), where)} = {toml_literal(v, where)}"
                               for k, v in value.items()) + "}"
    raise DropinError(f"{where}: {value!r} is not a value CRI-O's handler table can hold (a string, boolean, list "
                      "of strings or table of strings)")


def dropin_text(handler: object, settings: dict, extra_options: object = None) -> str:
    """The drop-in, unchecked but for its structure: a header comment and the one table
    [crio.runtime.runtimes.<handler>] with the collection's settings (OWN_KEYS; None, or an empty optional one,
    leaves a key out), then sandboxed_containers_crio_extra_options sorted by key. The handler must be a DNS label
    and every extra key one of CRI-O's RuntimeHandler; every value is written as a TOML literal."""
    handler = check_handler(handler)
    extra = {} if extra_options is None else extra_options
    if not isinstance(extra, dict):
        raise DropinError(f"sandboxed_containers_crio_extra_options must be a mapping of CRI-O handler keys to "
                          f"values, not {extra!r}")
    for key in extra:
        if not isinstance(key, str) or key not in HANDLER_KEYS:
            raise DropinError(
                f"sandboxed_containers_crio_extra_options has the key {key!r}, which CRI-O does not know (it would "
                f"ignore it without a word); its keys are {', '.join(sorted(HANDLER_KEYS))}"
            )
        if key in OWN_KEYS:
            raise DropinError(
                f"sandboxed_containers_crio_extra_options has the key {key!r}, which has a setting of its own: "
                f"set sandboxed_containers_crio_{key} instead"
            )
    lines = [MANAGED_HEADER, f"[crio.runtime.runtimes.{handler}]"]
    for key in OWN_KEYS:
        value = settings.get(key)
        if value is None or (value in ("", []) and key in ("runtime_config_path", "allowed_annotations")):
            continue
        lines.append(f"{key} = {toml_literal(value, f'sandboxed_containers_crio_{key}')}")
    for key in sorted(extra):
        lines.append(f"{key} = {toml_literal(extra[key], f'sandboxed_containers_crio_extra_options.{key}')}")
    return "\n".join(lines) + "\n"


def render_dropin(handler: object, settings: dict, extra_options: object = None, *,
                  allow_non_vm_runtime: bool = False) -> str:
    """The drop-in (dropin_text), parsed back and refused unless it is exactly the one table with keys and value
    types CRI-O accepts (defence in depth), and unless its runtime_type is vm or `allow_non_vm_runtime`."""
    text = dropin_text(handler, settings, extra_options)
    check_crio_dropin(text, str(handler), None, require_vm=not allow_non_vm_runtime)
    return text


def check_crio_dropin(content: str, handler: str, crio: tuple[int, int, int] | None = None, *,
                      require_vm: bool = False) -> dict:
    """Parses the drop-in and checks the handler's table against CRI-O `crio`; returns the table.

    Without `crio` (the settings alone, before the cluster is read), keys of any CRI-O release are accepted.
    `require_vm`: refuse a runtime_type other than vm, which would run the runtime class's pods without a VM.
    The checks, in order: the one table (handler_table), each key's name, release and type (_check_keys), the
    runtime (_check_runtime), the allowed annotations (_check_annotations).
    """
    table = handler_table(content, handler)
    where = f"[crio.runtime.runtimes.{handler}]"
    _check_keys(table, where, crio)
    _check_runtime(table, where, require_vm)
    _check_annotations(table, where, crio)
    if table.get("exec_cpu_affinity", "") not in EXEC_CPU_AFFINITY:
        raise DropinError(f"{where}: exec_cpu_affinity must be \"\" or \"first\"")
    return table


def handler_table(content: str, handler: str) -> dict:
    """The drop-in's [crio.runtime.runtimes.<handler>] table, refused unless it is valid TOML holding that table
    and nothing else."""
    if tomllib is None:  # pragma: no cover
        raise DropinError("checking the CRI-O drop-in needs Python 3.11 or later (tomllib)")
    try:
        doc = tomllib.loads(content)
    except tomllib.TOMLDecodeError as e:
        raise DropinError(f"the CRI-O drop-in is not valid TOML: {e}") from None
    table = doc.get("crio", {}).get("runtime", {}).get("runtimes", {}).get(handler) if isinstance(
        doc.get("crio"), dict) else None
    if not isinstance(table, dict):
        raise DropinError(
            f"the CRI-O drop-in has no [crio.runtime.runtimes.{handler}] table, so CRI-O would not know the "
            f"handler {handler!r} of the runtime class"
        )
    others = sorted(k for k in (doc.get("crio", {}).get("runtime", {}).get("runtimes", {})) if k != handler)
    if others or set(doc) != {"crio"} or set(doc["crio"]) != {"runtime"} or set(doc["crio"]["runtime"]) != {
            "runtimes"}:
        raise DropinError(
            f"the CRI-O drop-in may hold only the table [crio.runtime.runtimes.{handler}]; other settings would "
            "change CRI-O for every container on the node"
        )
    return table


def _check_keys(table: dict, where: str, crio: tuple[int, int, int] | None) -> None:
    """Every key one of CRI-O's RuntimeHandler, read by CRI-O `crio` (None: any release), of its type."""
    for key, value in table.items():
        known = HANDLER_KEYS.get(key)
        if known is None:
            raise DropinError(
                f"{where} has the key {key!r}, which CRI-O does not know (it would ignore it without a word); "
                f"its keys are {', '.join(sorted(HANDLER_KEYS))}"
            )
        kind, since = known
        if crio is not None and since > crio:
            raise DropinError(
                f"{where} has the key {key!r}, which CRI-O reads from {_version_text(since)} on; the chosen nodes "
                f"run CRI-O {_version_text(crio)}, which would ignore it without a word. Remove it from "
                "sandboxed_containers_crio_extra_options, or upgrade the cluster"
            )
        if not _type_ok(kind, value):
            raise DropinError(
                f"{where}: {key} must be a {kind}, not the {_toml_type(value)} {value!r}; CRI-O would refuse to "
                "start on every node after its reboot (\"incompatible types\"), leaving them NotReady"
            )
        if _has_control_character(value):
            raise DropinError(f"{where}: {key} {value!r} has a control character (such as a newline), which no "
                              "setting of CRI-O's runtime handler takes")


def _check_runtime(table: dict, where: str, require_vm: bool) -> None:
    """runtime_path and runtime_type present, a type CRI-O accepts (vm when `require_vm`), absolute paths, and
    what a vm handler needs (a runtime_root, a containerd shim) or may not have (runtime_config_path elsewhere)."""
    for key in ("runtime_path", "runtime_type"):
        if not table.get(key):
            raise DropinError(f"{where} needs {key}")
    rtype = table["runtime_type"]
    if rtype not in RUNTIME_TYPES:
        raise DropinError(f"{where}: runtime_type {rtype!r} is not one of {', '.join(RUNTIME_TYPES)}; CRI-O would "
                          "drop the handler")
    if require_vm and rtype != "vm":
        raise DropinError(
            f"{where}: runtime_type {rtype!r} would run the runtime class's pods as plain containers on the "
            "host's kernel, not in a VM, while the cluster takes them for sandboxed. Set "
            "sandboxed_containers_crio_runtime_type to vm, or, for a handler meant to run without a VM, "
            "sandboxed_containers_crio_allow_non_vm_runtime to true"
        )
    for key in PATH_KEYS:
        value = table.get(key)
        if value and not posixpath.isabs(value):
            raise DropinError(
                f"{where}: {key} {value!r} must be an absolute path (for example /usr/bin/containerd-shim-kata-v2); "
                "CRI-O looks a relative path up from its working directory, does not find it, and drops the handler"
            )
    if rtype == "vm":
        if not table.get("runtime_root"):
            raise DropinError(f"{where}: a vm handler needs runtime_root (e.g. /run/vc); without it CRI-O keeps its "
                              "FIFOs under a relative path")
        if not VM_BINARY.search(posixpath.basename(table["runtime_path"])):
            raise DropinError(
                f"{where}: runtime_path {table['runtime_path']!r} does not follow the containerd shim naming pattern "
                "containerd-shim-<name>-v2 that CRI-O requires for a vm handler; CRI-O would drop the handler"
            )
    elif table.get("runtime_config_path"):
        raise DropinError(f"{where}: runtime_config_path can only be used with runtime_type vm")
    if table.get("no_sync_log") and rtype != "oci":
        raise DropinError(f"{where}: no_sync_log is only allowed with runtime_type oci")


def _check_annotations(table: dict, where: str, crio: tuple[int, int, int] | None) -> None:
    """allowed_annotations from CRI-O's own list, as CRI-O `crio` has it (None: any release)."""
    minor = (crio or NEWEST)[:2]
    for ann in table.get("allowed_annotations") or []:
        since_minor = ALLOWED_ANNOTATIONS.get(ann)
        if since_minor is None or (crio is not None and since_minor > minor):
            known = sorted(a for a, m in ALLOWED_ANNOTATIONS.items() if m <= minor)
            raise DropinError(
                f"{where}: allowed_annotations has {ann!r}, which CRI-O {_version_text(crio or NEWEST)} does not "
                f"allow (\"invalid allowed_annotation\"), so it would drop the handler; the allowed ones are "
                f"{', '.join(known)}"
            )
