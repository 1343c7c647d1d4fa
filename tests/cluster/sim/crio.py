"""CRI-O on a simulated node: its configuration as a rendered MachineConfig and the node's RPMs leave it. Pure.

CRI-O starts from its built-in defaults (one runtime handler: runc up to
1.30, crun from 1.31; pkg/config/config_linux.go), then reads every file
under /etc/crio/crio.conf.d/ in lexical order (filepath.Walk), each decoded
with BurntSushi/toml on top of the previous result (pkg/config/config.go
UpdateFromDropInFile). A [crio.runtime.runtimes.X] table in a drop-in
replaces handler X as a whole (toml's unifyMap makes a new value for every
key of a map), while plain keys of [crio.runtime] replace one by one. Keys
CRI-O does not know are ignored (Decode's undecoded keys are not checked);
a value of the wrong type stops CRI-O ("incompatible types"). Then it drops
every handler whose binary is missing or whose settings are invalid, with a
warning, unless it is the default runtime, which stops CRI-O
(ValidateRuntimes). A pod asking for a handler CRI-O does not have fails with
"failed to find runtime handler kata from runtime list map[...]"
(internal/oci/oci.go ValidateRuntimeHandler).

The node's files are its rendered config's plus those of the RPMs layered
for its extensions: kata-containers brings /usr/bin/containerd-shim-kata-v2
and its own drop-in /etc/crio/crio.conf.d/50-kata. ostree's /etc merge keeps
a file the machine-config daemon wrote at that path, so a rendered config
that writes 50-kata shadows the RPM's file.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import ignition, releases

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
# The CRI-O drop-in of the kata-containers RPM (its spec: %{_sysconfdir}/crio/crio.conf.d/50-kata,
# "Add the CRI-O drop-in file to the package, Resolves: rhbz#1967594").
KATA_RPM_DROPIN = """[crio.runtime.runtimes.kata]
runtime_path = "/usr/bin/containerd-shim-kata-v2"
runtime_type = "vm"
runtime_root = "/run/vc"
privileged_without_host_devices = true
"""
PACKAGE_DROPINS: dict[str, dict[str, str]] = {
    "kata-containers": {f"{DROPIN_DIR}/50-kata": KATA_RPM_DROPIN},
}
VM_BINARY = re.compile(r"containerd-shim-([a-zA-Z0-9\-+])+-v2")

# The fields of config.RuntimeHandler by CRI-O minor (pkg/config/config.go on
# release-1.27 .. 1.34): key -> Go kind. Later minors add to earlier ones.
_FIELDS_127: dict[str, str] = {
    "runtime_config_path": "string", "runtime_path": "string", "runtime_type": "string", "runtime_root": "string",
    "privileged_without_host_devices": "bool", "allowed_annotations": "slice", "monitor_path": "string",
    "monitor_cgroup": "string", "monitor_env": "slice", "monitor_exec_cgroup": "string",
    "platform_runtime_paths": "map",
}
_FIELDS_ADDED: dict[int, dict[str, str]] = {
    28: {"runtime_pull_image": "bool"},
    29: {"container_min_memory": "string"},
    31: {"no_sync_log": "bool", "inherit_default_runtime": "bool", "default_annotations": "map"},
    34: {"stream_websockets": "bool", "exec_cpu_affinity": "string", "seccomp_profile": "string"},
}


def handler_fields(crio_minor: int) -> dict[str, str]:
    """The runtime handler keys CRI-O 1.<minor> decodes, with their Go kind."""
    out = dict(_FIELDS_127)
    for m, added in sorted(_FIELDS_ADDED.items()):
        if crio_minor >= m:
            out.update(added)
    return out


class CrioError(Exception):
    """CRI-O cannot start with this configuration; str() is its error chain."""


@dataclass
class CrioConfig:
    default_runtime: str = "crun"
    runtimes: dict[str, dict[str, Any]] = field(default_factory=dict)  # the valid handlers
    ignored: dict[str, str] = field(default_factory=dict)  # handler -> why CRI-O dropped it


def _minor(release: releases.Release | None) -> int:
    return int((release or releases.release(None)).crio.split(".")[1])


def builtin(release: releases.Release | None = None) -> tuple[str, dict[str, dict[str, Any]]]:
    """CRI-O's built-in default runtime and handler table (DefaultConfig)."""
    name = "crun" if _minor(release) >= 31 else "runc"
    return name, {name: {"runtime_type": "oci", "runtime_root": f"/run/{name}"}}


def dropins(cfg: dict, packages: Iterable[str] = ()) -> list[tuple[str, bytes]]:
    """Files under /etc/crio/crio.conf.d/ on the node, in CRI-O's walk order: the rendered
    config's, and the RPMs' where the config does not write the same path."""
    out: dict[str, bytes] = {}
    for pkg in packages:
        for path, text in PACKAGE_DROPINS.get(pkg, {}).items():
            out[path] = text.encode()
    for f in (cfg.get("storage") or {}).get("files") or []:
        p = f.get("path") or ""
        if p.startswith(DROPIN_DIR + "/"):
            try:
                out[p] = ignition.file_contents(f) or b""
            except ignition.IgnitionError as e:
                raise CrioError(f"could not read {p}: {e}") from None
    return sorted(out.items())


def binaries(cfg: dict, packages: Iterable[str]) -> set[str]:
    """What exists on the node: the base OS, the layered RPMs, files of the config."""
    out = set(BASE_BINARIES)
    for pkg in packages:
        out.update(PACKAGE_BINARIES.get(pkg, ()))
    for f in (cfg.get("storage") or {}).get("files") or []:
        if f.get("path"):
            out.add(f["path"])
    return out


def _wrap(path: str, err: str, minor: int) -> CrioError:
    """UpdateFromDropInFile's error as crio's start-up returns it: 1.31+ adds "walk path" (config.go
    UpdateFromPath) and "update config from path" (internal/criocli/criocli.go)."""
    text = f"unable to decode configuration {path}: {err}"
    if minor >= 31:
        text = f"update config from path: walk path: {text}"
    return CrioError(text)


def _toml_error(path: str, e: tomllib.TOMLDecodeError, minor: int) -> CrioError:
    msg = str(e)
    m = re.search(r"\(at line (\d+), column \d+\)$", msg)
    line = m.group(1) if m else "1"
    text = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", msg)
    text = text[:1].lower() + text[1:]
    return _wrap(path, f"toml: line {line}: {text}", minor)


def _go_type(value: Any, minor: int) -> str:
    """fmt's %T of the value BurntSushi/toml decoded (1.5.0 prints `any` for `interface {}`)."""
    anyname = "any" if minor >= 31 else "interface {}"  # toml v1.2.1 on 1.27; fmtType() in later ones
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return f"[]{anyname}"
    if isinstance(value, dict):
        return f"map[string]{anyname}"
    return "time.Time"


def _line_of(data: str, table: str, key: str) -> int:
    """The line of `key` inside [table] (what the decoder's keyInfo records)."""
    current = ""
    for i, raw in enumerate(data.splitlines(), 1):
        line = raw.strip()
        m = re.match(r"^\[\s*([^\[\]]+?)\s*\]", line)
        if m:
            current = ".".join(p.strip().strip('"') for p in m.group(1).split("."))
            continue
        if current == table and re.match(rf'^"?{re.escape(key)}"?\s*=', line):
            return i
    return 0


def _type_error(path: str, data: str, table: str, key: str, value: Any, want: str, minor: int) -> CrioError:
    """md.badtype: `toml: line N (last key "a.b.c"): incompatible types: TOML value has type T;
    destination has type D` (D is string, boolean, slice or map)."""
    dst = {"string": "string", "bool": "boolean", "slice": "slice", "map": "map"}[want]
    full = f"{table}.{key}"
    line = _line_of(data, table, key)
    where = f"toml: line {line} (last key \"{full}\"): " if line else f"toml: (last key \"{full}\"): "
    return _wrap(path, f"{where}incompatible types: TOML value has type {_go_type(value, minor)}; destination "
                       f"has type {dst}", minor)


def _kind_ok(value: Any, want: str) -> bool:
    if want == "string":
        return isinstance(value, str)
    if want == "bool":
        return isinstance(value, bool)
    if want == "slice":
        return isinstance(value, list)
    return True  # a map field ignores a value that is not a table (unifyMap returns nil)


def load(cfg: dict, packages: Iterable[str] = (), release: releases.Release | None = None) -> CrioConfig:
    """The runtime part of CRI-O's configuration on a node with this rendered config and these RPMs.

    Raises CrioError when CRI-O would not start (undecodable drop-in, broken
    default runtime).
    """
    packages = list(packages)
    minor = _minor(release)
    fields = handler_fields(minor)
    default, base = builtin(release)
    runtimes = {k: dict(v) for k, v in base.items()}
    for path, raw in dropins(cfg, packages):
        data = raw.decode("utf-8", errors="replace")
        try:
            doc = tomllib.loads(data)
        except tomllib.TOMLDecodeError as e:
            raise _toml_error(path, e, minor) from None
        crio = doc.get("crio")
        if not isinstance(crio, dict):
            continue
        runtime = crio.get("runtime")
        if not isinstance(runtime, dict):
            continue
        if "default_runtime" in runtime:
            if not isinstance(runtime["default_runtime"], str):
                raise _type_error(path, data, "crio.runtime", "default_runtime", runtime["default_runtime"],
                                  "string", minor)
            default = runtime["default_runtime"]
        table = runtime.get("runtimes")
        if not isinstance(table, dict):
            continue
        for hname, handler in table.items():
            if not isinstance(handler, dict):
                raise _wrap(path, f'toml: (last key "crio.runtime.runtimes.{hname}"): type mismatch for '
                                  f"config.RuntimeHandler: expected table but found {_go_type(handler, minor)}",
                            minor)
            decoded: dict[str, Any] = {}
            for k, v in handler.items():
                want = fields.get(k)
                if want is None:
                    continue  # unknown to this CRI-O: ignored
                if not _kind_ok(v, want):
                    raise _type_error(path, data, f"crio.runtime.runtimes.{hname}", k, v, want, minor)
                if want == "map" and not isinstance(v, dict):
                    continue
                decoded[k] = v
            runtimes[hname] = decoded  # the whole table replaces the handler
    have = binaries(cfg, packages)
    out = CrioConfig(default_runtime=default)
    if default not in runtimes:
        raise CrioError(f'validating runtime config: default_runtime set to "{default}", but no runtime '
                        f'entry table [crio.runtime.runtimes.{default}] was found')
    for hname, h in runtimes.items():
        if h.get("inherit_default_runtime"):
            dflt = runtimes[default]
            h = {**h, **{k: dflt.get(k) for k in ("runtime_path", "runtime_type", "runtime_config_path",
                                                  "runtime_root")}}
            if not h.get("runtime_path"):
                h["runtime_path"] = _lookup(default, have) or ""
        err = validate_handler(hname, h, have, minor)
        if err is None:
            out.runtimes[hname] = h
        elif hname == default:
            raise CrioError(f"validating runtime config: runtime validation: {err}")
        else:
            out.ignored[hname] = err
    return out


def _lookup(name: str, have: set[str]) -> str | None:
    return next((posixpath.join(d, name) for d in PATH_DIRS if posixpath.join(d, name) in have), None)


def validate_handler(hname: str, h: dict[str, Any], have: set[str], minor: int = 34) -> str | None:
    """RuntimeHandler.Validate, for what can go wrong in a drop-in (1.31+ checks the type first)."""
    rtype = h.get("runtime_type") or ""
    type_err = None
    if rtype not in ("", "oci", "vm", "pod"):
        type_err = f'invalid `runtime_type` "{rtype}" for runtime "{hname}"'
    if type_err and minor >= 31:
        return type_err
    rpath = h.get("runtime_path") or ""
    if not rpath:
        found = _lookup(hname, have)
        if found is None:
            return f'"{hname}" not found in $PATH: exec: "{hname}": executable file not found in $PATH'
        rpath = found
    elif rpath not in have:
        err = f"stat {rpath}: no such file or directory"
        # %q of the error up to 1.29, %w from 1.30 (ValidateRuntimePath)
        return f"invalid runtime_path for runtime '{hname}': " + (f'"{err}"' if minor <= 29 else err)
    if rtype == "vm" and not VM_BINARY.search(posixpath.basename(rpath)):
        return f"invalid runtime_path for runtime '{hname}': containerd binary naming pattern is not followed"
    return type_err


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


# Runtimes whose `<runtime_path> features` lists the "rro" mount option (runc >= 1.1, crun >= 1.8.5 on RHCOS 9);
# containerd-shim-kata-v2 has no `features` command, so CRI-O leaves both features false for it
# (pkg/config/config.go initializeRuntimeFeatures).
RRO_RUNTIMES = ("runc", "crun")


def runtime_handlers(conf: CrioConfig) -> list[dict[str, Any]]:
    """RuntimeStatus's runtime_handlers as CRI-O answers them (server/runtime_status.go, v1.30.0 on): one per
    valid handler, and after the default handler an entry named "" with its features. CRI-O ranges over a Go map,
    so its order changes from call to call; here it is sorted, which the kubelet (it keeps CRI-O's order) allows.
    User namespaces need IDMap mounts enabled in the runtime's features: not modelled, false for every handler."""
    out = []
    for name in sorted(conf.runtimes):
        path = str(conf.runtimes[name].get("runtime_path") or name)
        features = {"recursiveReadOnlyMounts": path.rsplit("/", 1)[-1] in RRO_RUNTIMES, "userNamespaces": False}
        out.append({"name": name, "features": features})
        if name == conf.default_runtime:
            out.append({"name": "", "features": dict(features)})
    return out
