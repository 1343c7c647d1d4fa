"""Ignition configs the way the MCO reads, checks and merges them. Pure.

What the MCO does (pkg/controller/common/helpers.go, mco.md 2.2/2.3):
- IgnParseWrapper: accept spec 3.0-3.5 (converted to 3.5) and 2.2, with the
  MCO's messages for an unparsable or unknown version;
- the Ignition validator's report ("error at $.storage.files.0.path, line 1
  col 67: path not absolute"), with line/column computed on the compact,
  key-sorted JSON the API server sends (as the real parser sees it);
- validateIgn3FileModes (no setuid/setgid/sticky bits);
- ign3.Merge (keyed lists merged by key, later configs win) plus the MCO's
  compression workaround and its "overwrite defaults to true".

Only the parts of the spec that MachineConfigs use are modelled: files,
directories, links, systemd units and drop-ins, passwd users and groups,
kernel arguments; disks, filesystems, raid and luks are kept and compared but
not validated in depth.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import json
import posixpath
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

from .constants import IGNITION_RENDER_VERSION

SUPPORTED_V3 = ("3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0")
# IgnitionConverterSingleton().GetSupportedMinorVersions(), joined as the MCO does.
SUPPORTED_MINOR = "2.2,3.1,3.2,3.3,3.4,3.5"
MODE_PERM = 0o777

UNIT_EXTENSIONS = (".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target",
                   ".path", ".timer", ".snapshot", ".slice", ".scope")


class IgnitionError(ValueError):
    """An error whose text is what the MCO would report."""


# -- the JSON the API server sends -------------------------------------------

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_str(s: str) -> str:
    out = json.dumps(s, ensure_ascii=False)
    return "".join(_GO_ESCAPES.get(c, c) for c in out)


def go_json(obj: Any) -> tuple[bytes, dict[tuple, int]]:
    """Compact, key-sorted JSON as Go's encoder writes it, with the byte offset of every value.

    The API server sends custom resources this way, and the MCO hands exactly
    these bytes (RawExtension) to the Ignition parser; offsets give the
    "line 1 col N" markers of its reports.
    """
    parts: list[bytes] = []
    offsets: dict[tuple, int] = {}
    pos = 0

    def emit(s: str) -> None:
        nonlocal pos
        b = s.encode()
        parts.append(b)
        pos += len(b)

    def walk(v: Any, path: tuple) -> None:
        offsets[path] = pos
        if isinstance(v, dict):
            emit("{")
            for i, k in enumerate(sorted(v)):
                if i:
                    emit(",")
                emit(_go_str(str(k)) + ":")
                walk(v[k], (*path, k))
            emit("}")
        elif isinstance(v, list):
            emit("[")
            for i, item in enumerate(v):
                if i:
                    emit(",")
                walk(item, (*path, i))
            emit("]")
        elif isinstance(v, str):
            emit(_go_str(v))
        elif v is True:
            emit("true")
        elif v is False:
            emit("false")
        elif v is None:
            emit("null")
        elif isinstance(v, float) and v.is_integer():
            emit(str(int(v)))
        else:
            emit(json.dumps(v))

    walk(obj, ())
    return b"".join(parts), offsets


# -- reports -----------------------------------------------------------------

class Report:
    """vcontext's report: entries "error at $.a.b, line 1 col N: message"."""

    def __init__(self, offsets: dict[tuple, int] | None = None) -> None:
        self.entries: list[tuple[str, tuple, str]] = []
        self.offsets = offsets

    def add(self, kind: str, path: tuple, message: str) -> None:
        self.entries.append((kind, path, message))

    def error(self, path: tuple, message: str) -> None:
        self.add("error", path, message)

    def warn(self, path: tuple, message: str) -> None:
        self.add("warning", path, message)

    @property
    def fatal(self) -> bool:
        return any(entry[0] == "error" for entry in self.entries)

    def _marker(self, path: tuple) -> str:
        if self.offsets is None:
            return ""
        p = path
        while p not in self.offsets and p:
            p = p[:-1]  # the deepest node that exists in the JSON
        off = self.offsets.get(p)
        return "" if off is None else f"line 1 col {off + 1}"

    def __str__(self) -> str:
        out = ""
        for kind, path, msg in self.entries:
            ctx = "$" + "".join(f".{p}" for p in path) if path else ""
            marker = self._marker(path)
            if marker and ctx:
                at = f" at {ctx}, {marker}"
            elif marker:
                at = f" at {marker}"
            elif ctx:
                at = f" at {ctx}"
            else:
                at = ""
            out += f"{kind}{at}: {msg}\n"
        return out


# -- data URLs (vincent-petithory/dataurl, as Ignition uses it) ----------------

_TOKEN = re.compile(r"^[!#$&'*+\-.^_`|~0-9A-Za-z]+$")


def _go_base64(s: str) -> bytes:
    s2 = s.replace("\r", "").replace("\n", "")
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(s2):
        if ch == "=":
            break
        if ch not in alphabet:
            raise IgnitionError(f"illegal base64 data at input byte {i}")
    try:
        return base64.b64decode(s2, validate=True)
    except (binascii.Error, ValueError):
        n = len(s2.rstrip("="))
        raise IgnitionError(f"illegal base64 data at input byte {n - n % 4}") from None


def _unescape(s: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(s):
        ch = s[i]
        if ord(ch) > 127:
            raise IgnitionError("rfc2396: non-ASCII char detected")
        if ch == "%":
            if len(s) - i < 3:
                raise IgnitionError("rfc2396: unexpected end of unescape sequence")
            h = s[i + 1:i + 3]
            try:
                out.append(int(h, 16))
            except ValueError:
                raise IgnitionError(f"rfc2396: invalid hex escape sequence %{h}") from None
            i += 3
            continue
        out.append(ord(ch))
        i += 1
    return bytes(out)


def decode_data_url(url: str) -> tuple[str, bytes]:
    """(media type, data) of an RFC 2397 URL; IgnitionError with the library's messages."""
    if not url.startswith("data:"):
        raise IgnitionError("missing data prefix")
    rest = url[5:]
    if "," not in rest:
        raise IgnitionError("missing comma before data")
    meta, data = rest.split(",", 1)
    params = meta.split(";") if meta else [""]
    mediatype = params[0] or "text/plain"
    is_b64 = False
    for p in params[1:]:
        if p == "base64":
            is_b64 = True
        elif "=" not in p:
            raise IgnitionError("expected semicolon or comma")
    if params[0]:
        if "/" not in params[0]:
            raise IgnitionError("missing media type slash")
        t, sub = params[0].split("/", 1)
        if not _TOKEN.match(t):
            raise IgnitionError("invalid character for media type")
        if not sub:
            raise IgnitionError("incomplete media type")
        if not _TOKEN.match(sub):
            raise IgnitionError("invalid character for media subtype")
    return mediatype, (_go_base64(data) if is_b64 else _unescape(data))


def _validate_url(s: str | None) -> str | None:
    if not s:
        return None
    try:
        u = urllib.parse.urlsplit(s)
    except ValueError:
        return "unable to parse url"
    scheme = u.scheme.lower()
    if scheme in ("http", "https", "tftp", "gs", "s3", "arn"):
        return None
    if scheme == "data":
        try:
            decode_data_url(s)
        except IgnitionError as e:
            return str(e)
        return None
    return "invalid url scheme"


def file_contents(f: dict) -> bytes | None:
    """DecodeIgnitionFileContents: the inline contents of a file (None: no source)."""
    contents = f.get("contents") or {}
    source = contents.get("source")
    if source is None:
        return None
    try:
        _mediatype, data = decode_data_url(source)
    except IgnitionError as e:
        raise IgnitionError(f"could not decode file content string: {e}") from None
    compression = contents.get("compression")
    if compression == "gzip":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise IgnitionError(f"failed decompressing: {e}") from None
    if compression not in (None, ""):
        raise IgnitionError(f'unsupported compression type "{compression}"')
    return data


# -- parsing and validation ----------------------------------------------------

_TYPES: dict[tuple[str, ...], tuple[type, ...]] = {
    # (path pattern with * for list items) -> allowed JSON types; the common fields only
    ("storage", "files", "*", "path"): (str,),
    ("storage", "files", "*", "mode"): (int,),
    ("storage", "files", "*", "overwrite"): (bool,),
    ("storage", "files", "*", "contents"): (dict,),
    ("storage", "files", "*", "contents", "source"): (str,),
    ("storage", "files", "*", "contents", "compression"): (str,),
    ("storage", "files", "*", "append"): (list,),
    ("storage", "files"): (list,),
    ("storage", "directories"): (list,),
    ("storage", "links"): (list,),
    ("storage",): (dict,),
    ("systemd",): (dict,),
    ("systemd", "units"): (list,),
    ("systemd", "units", "*", "name"): (str,),
    ("systemd", "units", "*", "contents"): (str,),
    ("systemd", "units", "*", "enabled"): (bool,),
    ("systemd", "units", "*", "mask"): (bool,),
    ("systemd", "units", "*", "dropins"): (list,),
    ("passwd",): (dict,),
    ("passwd", "users"): (list,),
    ("passwd", "users", "*", "name"): (str,),
    ("passwd", "users", "*", "sshAuthorizedKeys"): (list,),
    ("ignition",): (dict,),
    ("ignition", "version"): (str,),
}

_GO_TYPE = {str: "string", int: "int", bool: "bool", dict: "object", list: "array"}
_STRUCT = {"files": "File", "units": "Unit", "users": "PasswdUser", "contents": "Resource",
           "storage": "Config", "systemd": "Config", "passwd": "Config", "ignition": "Config",
           "directories": "Storage", "links": "Storage"}


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _type_errors(cfg: Any, offsets: dict[tuple, int]) -> str | None:
    """The first json.UnmarshalTypeError Go would hit, as the report line it becomes."""
    def walk(v: Any, path: tuple, pattern: tuple) -> str | None:
        allowed = _TYPES.get(pattern)
        if allowed is not None and v is not None:
            ok = any((t is int and isinstance(v, int) and not isinstance(v, bool))
                     or (t is not int and isinstance(v, t)) for t in allowed)
            if _float_int(v, allowed):
                ok = True
            if not ok:
                field = ".".join(str(p) for p in pattern if p != "*")
                owner = _STRUCT.get(next((p for p in reversed(pattern[:-1]) if p != "*"), ""), "Config")
                end = _end_offset(v, path, offsets)
                return (f"error at line 1 col {end + 1}: json: cannot unmarshal {_json_kind(v)} into Go "
                        f"struct field {owner}.{field} of type {_GO_TYPE[allowed[0]]}\n")
        if isinstance(v, dict):
            for k in sorted(v):
                r = walk(v[k], (*path, k), (*pattern, k))
                if r:
                    return r
        elif isinstance(v, list):
            for i, item in enumerate(v):
                r = walk(item, (*path, i), (*pattern, "*"))
                if r:
                    return r
        return None

    return walk(cfg, (), ())


def _float_int(v: Any, allowed: tuple[type, ...]) -> bool:
    return int in allowed and isinstance(v, float) and v.is_integer()


def _end_offset(v: Any, path: tuple, offsets: dict[tuple, int]) -> int:
    raw, _offsets = go_json(v)
    return offsets.get(path, 0) + len(raw)


def _semver(v: Any) -> tuple[int, int, int, str] | None:
    if not isinstance(v, str):
        return None
    m = re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?", v)
    if not m:
        return None
    return int(m[1]), int(m[2]), int(m[3]), m[4] or ""


def parse(raw: Any) -> tuple[str, dict]:
    """IgnParseWrapper + ParseAndConvertConfig: (source version, config as spec 3.5).

    `raw` is the decoded spec.config of a MachineConfig. Raises IgnitionError
    with the MCO's message.
    """
    if not isinstance(raw, dict):
        raise IgnitionError("parsing Ignition config spec v3 failed with error: config is not valid\n"
                            "Report: error at line 1 col 1: json: cannot unmarshal "
                            f"{_json_kind(raw)} into Go value of type types.Config\n")
    _raw, offsets = go_json(raw)
    ign = raw.get("ignition")
    version = ign.get("version") if isinstance(ign, dict) else None
    sv = _semver(version)
    if sv is None:
        raise IgnitionError("parsing Ignition config failed: invalid version. "
                            f"Supported spec versions: {SUPPORTED_MINOR}")
    if version in SUPPORTED_V3:
        type_err = _type_errors(raw, offsets)
        if type_err:
            raise IgnitionError("parsing Ignition config spec v3 failed with error: config is not valid\n"
                                f"Report: {type_err}")
        report = validate(raw, offsets)
        if report.fatal:
            raise IgnitionError("parsing Ignition config spec v3 failed with error: config is not valid\n"
                                f"Report: {report}")
        cfg = copy.deepcopy(raw)
        cfg["ignition"] = {**cfg.get("ignition", {}), "version": IGNITION_RENDER_VERSION}
        return version, cfg
    if sv[0] == 2 and sv[1] <= 2 and not sv[3]:
        return version, _v2_to_v3(raw)
    raise IgnitionError("parsing Ignition config failed: unknown version. "
                        f"Supported spec versions: {SUPPORTED_MINOR}")


def _path_error(p: Any) -> str | None:
    if not p:
        return "path not specified"
    if not posixpath.isabs(p):
        return "path not absolute"
    if posixpath.normpath(p) != p or p.startswith("//"):
        return "path is not fully simplified"
    return None


def validate(cfg: dict, offsets: dict[tuple, int] | None = None) -> Report:
    """The Ignition validator's report for the parts of the spec MachineConfigs use."""
    r = Report(offsets)
    storage = cfg.get("storage") or {}
    links = storage.get("links") or []
    for i, d in enumerate(storage.get("directories") or []):
        for lk in links:
            if str(d.get("path", "")).startswith(str(lk.get("path")) + "/"):
                r.error(("storage", "directories", i), "path conflicts with a symlink")
    for i, f in enumerate(storage.get("files") or []):
        for lk in links:
            if str(f.get("path", "")).startswith(str(lk.get("path")) + "/"):
                r.error(("storage", "files", i), "path conflicts with a symlink")
    for i, lk in enumerate(links):
        if not lk.get("target"):
            r.error(("storage", "links", i, "target"), "link target is required")
    for i, d in enumerate(storage.get("directories") or []):
        base = ("storage", "directories", i)
        err = _path_error(d.get("path"))
        if err:
            r.error((*base, "path"), err)
        mode = d.get("mode")
        if mode is not None and not 0 <= mode <= 0o7777:
            r.error((*base, "mode"), "illegal file mode")
    for i, f in enumerate(storage.get("files") or []):
        base = ("storage", "files", i)
        err = _path_error(f.get("path"))
        if err:
            r.error((*base, "path"), err)
        mode = f.get("mode")
        if mode is not None:
            if not 0 <= mode <= 0o7777:
                r.error((*base, "mode"), "illegal file mode")
            elif mode & 0o7000:
                r.warn((*base, "mode"), "setuid/setgid/sticky bits are not supported or functional in "
                                        "spec versions older than 3.6.0")
        contents = f.get("contents") or {}
        if f.get("overwrite") is True and contents.get("source") is None:
            r.error((*base, "overwrite"), "overwrite must be false if source is unspecified")
        for j, res in enumerate(f.get("append") or []):
            _validate_resource(r, (*base, "append", j), res)
        _validate_resource(r, (*base, "contents"), contents)
    for i, lk in enumerate(links):
        err = _path_error(lk.get("path"))
        if err:
            r.error(("storage", "links", i, "path"), err)
    for i, u in enumerate((cfg.get("systemd") or {}).get("units") or []):
        base = ("systemd", "units", i)
        if not str(u.get("name", "")).endswith(UNIT_EXTENSIONS) or "." not in str(u.get("name", "")):
            r.error((*base, "name"), "invalid systemd unit extension")
        for j, d in enumerate(u.get("dropins") or []):
            if not str(d.get("name", "")).endswith(".conf"):
                r.error((*base, "dropins", j, "name"), "invalid systemd drop-in extension")
    # ValidateDups: files, directories and links share one key space (Node).
    seen: set[str] = set()
    for field in ("directories", "files", "links"):
        for i, n in enumerate(storage.get(field) or []):
            key = n.get("path")
            if key in seen:
                r.error(("storage", field, i), "duplicate entry defined")
            seen.add(key)
    for container, field in (("systemd", "units"), ("passwd", "users"), ("passwd", "groups")):
        names: set[str] = set()
        for i, item in enumerate((cfg.get(container) or {}).get(field) or []):
            key = item.get("name")
            if key in names:
                r.error((container, field, i), "duplicate entry defined")
            names.add(key)
    return r


def _validate_resource(r: Report, base: tuple, res: dict) -> None:
    comp = res.get("compression")
    if comp not in (None, "", "gzip"):
        r.error((*base, "compression"), "invalid compression method")
    if (res.get("verification") or {}).get("hash") is not None and res.get("source") is None:
        r.error((*base, "verification", "hash"), "verification requires a source")
    err = _validate_url(res.get("source"))
    if err:
        r.error((*base, "source"), err)


def check_file_modes(cfg: dict) -> None:
    """validateIgn3FileModes: the MCO refuses setuid, setgid and sticky bits."""
    for f in (cfg.get("storage") or {}).get("files") or []:
        mode = f.get("mode")
        if mode is not None and mode > MODE_PERM:
            raise IgnitionError(f"invalid mode {_go_octal(mode)} for {f.get('path')}, cannot exceed "
                                f"{_go_octal(MODE_PERM)}")


def _go_octal(n: int) -> str:
    return "0" + format(n, "o") if n else "0"


def validate_machine_config_ignition(raw: Any) -> dict:
    """What ValidateMachineConfig does with spec.config: parse, validate, check modes."""
    _report, cfg = parse(raw)
    check_file_modes(cfg)
    return cfg


def _v2_to_v3(raw: dict) -> dict:
    """The 2.2 -> 3.x translation, for the parts MachineConfigs use."""
    out: dict[str, Any] = {"ignition": {"version": IGNITION_RENDER_VERSION}}
    storage = raw.get("storage") or {}
    files = []
    for f in storage.get("files") or []:
        if f.get("filesystem") not in (None, "root"):
            raise IgnitionError("unable to convert Ignition spec v2 config to v3: filesystem "
                                f"{f.get('filesystem')!r} is not root")
        nf = {k: v for k, v in f.items() if k not in ("filesystem", "append")}
        if f.get("append"):
            nf["append"] = [f.get("contents") or {}]
            nf.pop("contents", None)
        files.append(nf)
    st: dict[str, Any] = {}
    if files:
        st["files"] = files
    for key in ("directories", "links"):
        items = [{k: v for k, v in x.items() if k != "filesystem"} for x in storage.get(key) or []]
        if items:
            st[key] = items
    if st:
        out["storage"] = st
    units = []
    for u in (raw.get("systemd") or {}).get("units") or []:
        nu = {k: v for k, v in u.items() if k != "enable"}
        if u.get("enable") and "enabled" not in nu:
            nu["enabled"] = True
        units.append(nu)
    if units:
        out["systemd"] = {"units": units}
    passwd = raw.get("passwd") or {}
    if passwd.get("users") or passwd.get("groups"):
        out["passwd"] = {k: passwd[k] for k in ("users", "groups") if passwd.get(k)}
    return out


# -- merging -------------------------------------------------------------------

# Keyed lists (Key() of the Ignition types) by their path, * for list items.
_KEYED: dict[tuple[str, ...], str] = {
    ("storage", "files"): "path",
    ("storage", "directories"): "path",
    ("storage", "links"): "path",
    ("storage", "disks"): "device",
    ("storage", "filesystems"): "device",
    ("storage", "raid"): "name",
    ("storage", "luks"): "name",
    ("systemd", "units"): "name",
    ("systemd", "units", "*", "dropins"): "name",
    ("passwd", "users"): "name",
    ("passwd", "groups"): "name",
    ("ignition", "config", "merge"): "source",
    ("ignition", "security", "tls", "certificateAuthorities"): "source",
    ("storage", "files", "*", "contents", "httpHeaders"): "name",
}
_APPEND_LISTS = {("storage", "files", "*", "append")}
_NODE_LISTS = ("files", "directories", "links")


def merge(parent: dict, child: dict) -> dict:
    """ign3.Merge(parent, child) with the MCO's compression workaround."""
    return _merge_struct(copy.deepcopy(parent), child, ())


def _merge_struct(p: dict, c: dict, pattern: tuple) -> dict:
    for k, cv in c.items():
        if cv is None:
            continue  # a nil pointer in the child leaves the parent's value
        sub = (*pattern, k)
        if isinstance(cv, dict):
            pv = p.get(k)
            if k == "contents" and pattern and pattern[-1] == "*" and pattern[-2:-1] == ("files",):
                # The MCO makes a file's compression follow its contents
                # (ignitionMergeSetFilesDefaultCompression).
                merged = _merge_struct(copy.deepcopy(pv) if isinstance(pv, dict) else {}, cv, sub)
                if "compression" not in cv:
                    merged.pop("compression", None)
                p[k] = merged
            else:
                p[k] = _merge_struct(copy.deepcopy(pv) if isinstance(pv, dict) else {}, cv, sub)
        elif isinstance(cv, list):
            pv = p.get(k) if isinstance(p.get(k), list) else []
            if sub in _APPEND_LISTS:
                p[k] = list(pv) + copy.deepcopy(cv)
            elif sub in _KEYED:
                p[k] = _merge_keyed(pv, cv, _KEYED[sub], sub)
            elif cv and isinstance(cv[0], dict):
                p[k] = list(pv) + copy.deepcopy(cv)
            else:
                p[k] = list(pv) + [x for x in cv if x not in pv]
        else:
            p[k] = cv
    if pattern == ("storage",):
        _dedupe_nodes(p, c)
    return p


def _merge_keyed(parent: list, child: list, key: str, pattern: tuple) -> list:
    out = [copy.deepcopy(x) for x in parent]
    index = {x.get(key): i for i, x in enumerate(out) if isinstance(x, dict)}
    for item in child:
        k = item.get(key) if isinstance(item, dict) else item
        if k in index:
            out[index[k]] = _merge_struct(out[index[k]], item, (*pattern, "*"))
        else:
            index[k] = len(out)
            out.append(copy.deepcopy(item))
    return out


def _dedupe_nodes(merged: dict, child: dict) -> None:
    """Files, directories and links share their key: the child's list wins a path."""
    for field in _NODE_LISTS:
        child_paths = {x.get("path") for x in child.get(field) or [] if isinstance(x, dict)}
        for other in _NODE_LISTS:
            if other == field or not merged.get(other):
                continue
            merged[other] = [x for x in merged[other] if x.get("path") not in child_paths]
            if not merged[other]:
                merged.pop(other)


def empty_config() -> dict:
    return {"ignition": {"version": IGNITION_RENDER_VERSION}}


def merge_all(configs: Iterable[dict | None]) -> dict:
    """MergeMachineConfigs' Ignition part: the first config is the base, None is skipped."""
    out: dict | None = None
    for i, cfg in enumerate(configs):
        if i == 0:
            out = copy.deepcopy(cfg) if cfg is not None else empty_config()
            continue
        if cfg is None:
            continue
        out = merge(out or empty_config(), cfg)
    out = out or empty_config()
    out["ignition"] = {**(out.get("ignition") or {}), "version": IGNITION_RENDER_VERSION}
    for f in (out.get("storage") or {}).get("files") or []:
        if f.get("overwrite") is None:
            f["overwrite"] = True
    return out


def canonical(v: Any) -> Any:
    """Drops nulls and empty containers, so "absent" and "empty" compare equal."""
    if isinstance(v, dict):
        out = {k: canonical(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [])}
    if isinstance(v, list):
        return [canonical(x) for x in v]
    return v
