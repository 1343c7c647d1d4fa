"""CRI-O on a simulated node: its configuration as a rendered MachineConfig leaves it. Pure.

CRI-O reads /etc/crio/crio.conf (from the OS image) and then every drop-in
under /etc/crio/crio.conf.d/ in lexical order, each TOML file decoded on top
of the previous result (pkg/config/config.go UpdateFromPath). It then drops
every runtime handler whose binary is missing or whose settings are invalid,
with a warning, unless it is the default runtime, which stops CRI-O
(ValidateRuntimes). A pod asking for a handler CRI-O does not have fails with
"failed to find runtime handler kata from runtime list map[...]"
(internal/oci/oci.go ValidateRuntimeHandler).

The simulated node's binaries are the base OS's plus those of the RPMs of its
extensions: the sandboxed-containers extension brings kata-containers, whose
shim is /usr/bin/containerd-shim-kata-v2. The extension does not bring a
drop-in here: the handler table must come from a MachineConfig (the
collection writes it), so "installed" means both (DESIGN.md).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from . import ignition

DROPIN_DIR = "/etc/crio/crio.conf.d"
PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin")
BASE_BINARIES = frozenset({
    "/usr/bin/crun", "/usr/bin/runc", "/usr/bin/conmon", "/usr/bin/conmonrs", "/usr/bin/crio",
    "/usr/libexec/crio/conmon", "/usr/bin/pinns",
})
PACKAGE_BINARIES: dict[str, tuple[str, ...]] = {
    "kata-containers": ("/usr/bin/containerd-shim-kata-v2", "/usr/bin/kata-runtime", "/usr/bin/kata-monitor"),
    "crun-wasm": ("/usr/bin/crun-wasm",),
}
# /etc/crio/crio.conf of the OS image, as far as runtimes go.
BASE_RUNTIMES: dict[str, dict[str, Any]] = {
    "crun": {"runtime_path": "/usr/bin/crun", "runtime_type": "oci", "runtime_root": "/run/crun"},
    "runc": {"runtime_path": "/usr/bin/runc", "runtime_type": "oci", "runtime_root": "/run/runc"},
}
BASE_DEFAULT_RUNTIME = "crun"
VM_BINARY = re.compile(r"containerd-shim-([a-zA-Z0-9\-+])+-v2")

# Types of the runtime handler fields CRI-O decodes (config.RuntimeHandler).
_HANDLER_FIELDS: dict[str, type] = {
    "runtime_path": str, "runtime_type": str, "runtime_root": str, "runtime_config_path": str,
    "monitor_path": str, "monitor_cgroup": str, "monitor_exec_cgroup": str, "platform_runtime_paths": dict,
    "privileged_without_host_devices": bool, "runtime_pull_image": bool, "inherit_default_runtime": bool,
    "allowed_annotations": list, "default_annotations": dict, "monitor_env": list, "container_min_memory": str,
    "no_sync_log": bool, "stream_websockets": bool, "exec_cpu_affinity": str,
}
_GO_TYPES = {str: "string", bool: "bool", list: "[]string", dict: "map[string]string", int: "int64"}


class CrioError(Exception):
    """CRI-O cannot start with this configuration; str() is its error chain."""


@dataclass
class CrioConfig:
    default_runtime: str = BASE_DEFAULT_RUNTIME
    runtimes: dict[str, dict[str, Any]] = field(default_factory=dict)  # the valid handlers
    ignored: dict[str, str] = field(default_factory=dict)  # handler -> why CRI-O dropped it


def dropins(cfg: dict) -> list[tuple[str, bytes]]:
    """Files under /etc/crio/crio.conf.d/ of a rendered config, in CRI-O's walk order."""
    out = []
    for f in (cfg.get("storage") or {}).get("files") or []:
        p = f.get("path") or ""
        if p.startswith(DROPIN_DIR + "/"):
            try:
                data = ignition.file_contents(f) or b""
            except ignition.IgnitionError as e:
                raise CrioError(f"could not read {p}: {e}") from None
            out.append((p, data))
    return sorted(out)


def binaries(cfg: dict, extensions: list[str], packages: dict[str, tuple[str, ...]]) -> set[str]:
    """What exists on the node: the base OS, the extensions' RPMs, files of the config."""
    out = set(BASE_BINARIES)
    for ext in extensions:
        for pkg in packages.get(ext, ()):
            out.update(PACKAGE_BINARIES.get(pkg, ()))
    for f in (cfg.get("storage") or {}).get("files") or []:
        if f.get("path"):
            out.add(f["path"])
    return out


def _toml_error(path: str, e: tomllib.TOMLDecodeError) -> CrioError:
    msg = str(e)
    m = re.search(r"\(at line (\d+), column \d+\)$", msg)
    line = m.group(1) if m else "1"
    text = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", msg)
    text = text[:1].lower() + text[1:]
    return CrioError(f"update config from path: walk path: unable to decode configuration {path}: "
                     f"toml: line {line}: {text}")


def _type_error(path: str, key: str, value: Any, want: type) -> CrioError:
    got = {bool: "bool", int: "int64", float: "float64", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__)
    return CrioError(f"update config from path: walk path: unable to decode configuration {path}: "
                     f'toml: (last key "{key}"): incompatible types: TOML value has type {got}; '
                     f"destination has type {_GO_TYPES[want]}")


def load(cfg: dict, extensions: list[str], packages: dict[str, tuple[str, ...]]) -> CrioConfig:
    """The runtime part of CRI-O's configuration on a node with this rendered config.

    Raises CrioError when CRI-O would not start (undecodable drop-in, broken
    default runtime).
    """
    runtimes = {k: dict(v) for k, v in BASE_RUNTIMES.items()}
    default = BASE_DEFAULT_RUNTIME
    for path, data in dropins(cfg):
        try:
            doc = tomllib.loads(data.decode("utf-8", errors="replace"))
        except tomllib.TOMLDecodeError as e:
            raise _toml_error(path, e) from None
        crio = doc.get("crio")
        if crio is None:
            continue
        if not isinstance(crio, dict):
            raise _type_error(path, "crio", crio, dict)
        runtime = crio.get("runtime") or {}
        if not isinstance(runtime, dict):
            raise _type_error(path, "crio.runtime", runtime, dict)
        if "default_runtime" in runtime:
            if not isinstance(runtime["default_runtime"], str):
                raise _type_error(path, "crio.runtime.default_runtime", runtime["default_runtime"], str)
            default = runtime["default_runtime"]
        table = runtime.get("runtimes") or {}
        if not isinstance(table, dict):
            raise _type_error(path, "crio.runtime.runtimes", table, dict)
        for hname, handler in table.items():
            if not isinstance(handler, dict):
                raise _type_error(path, f"crio.runtime.runtimes.{hname}", handler, dict)
            for k, v in handler.items():
                want = _HANDLER_FIELDS.get(k)
                if want is not None and not isinstance(v, want):
                    raise _type_error(path, f"crio.runtime.runtimes.{hname}.{k}", v, want)
            runtimes.setdefault(hname, {}).update(handler)
    have = binaries(cfg, extensions, packages)
    out = CrioConfig(default_runtime=default)
    for hname, h in runtimes.items():
        if h.get("inherit_default_runtime") and default in runtimes:
            base = runtimes[default]
            h = {**h, **{k: base.get(k) for k in ("runtime_path", "runtime_type", "runtime_config_path",
                                                  "runtime_root")}}
        err = validate_handler(hname, h, have)
        if err is None:
            out.runtimes[hname] = h
        elif hname == default:
            raise CrioError(f"validating runtime config: {err}")
        else:
            out.ignored[hname] = err
    if default not in out.runtimes:
        raise CrioError(f'validating runtime config: default_runtime set to "{default}", but no runtime '
                        f'entry table [crio.runtime.runtimes.{default}] was found')
    return out


def validate_handler(hname: str, h: dict[str, Any], have: set[str]) -> str | None:
    """RuntimeHandler.Validate, for what can go wrong in a drop-in."""
    rtype = h.get("runtime_type") or ""
    if rtype not in ("", "oci", "vm", "pod"):
        return f'invalid `runtime_type` "{rtype}" for runtime "{hname}"'
    rpath = h.get("runtime_path") or ""
    if not rpath:
        found = next((posixpath.join(d, hname) for d in PATH_DIRS if posixpath.join(d, hname) in have), None)
        if found is None:
            return f'"{hname}" not found in $PATH: exec: "{hname}": executable file not found in $PATH'
        rpath = found
    elif rpath not in have:
        return f"invalid runtime_path for runtime '{hname}': stat {rpath}: no such file or directory"
    if rtype == "vm" and not VM_BINARY.search(posixpath.basename(rpath)):
        return f"invalid runtime_path for runtime '{hname}': containerd binary naming pattern is not followed"
    return None


def _pointer(seed: str, handler: str) -> str:
    return "0xc000" + hashlib.sha256(f"{seed}/{handler}".encode()).hexdigest()[:6]


def runtime_list(runtimes: dict[str, Any], seed: str) -> str:
    """fmt's %v of CRI-O's map[string]*RuntimeHandler (keys sorted, pointer values)."""
    return "map[" + " ".join(f"{k}:{_pointer(seed, k)}" for k in sorted(runtimes)) + "]"


def handler_error(handler: str, conf: CrioConfig, seed: str) -> str | None:
    """CRI-O's RunPodSandbox error for a handler, or None if it has it."""
    if handler == "":
        return None
    if handler not in conf.runtimes:
        return f"failed to find runtime handler {handler} from runtime list {runtime_list(conf.runtimes, seed)}"
    return None
