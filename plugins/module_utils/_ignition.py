# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Ignition, as a MachineConfig carries it: the config version, files and their data URLs (no I/O).

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import base64
import urllib.parse

IGNITION_VERSION = "3.2.0"


def data_url(content: str) -> str:
    """An Ignition data URL for a file's contents."""
    return "data:text/plain;charset=utf-8;base64," + base64.b64encode(content.encode()).decode()


def decode_data_url(url: str) -> str:
    """The contents of a data URL (base64 or percent-encoded), as Ignition reads it."""
    if not url.startswith("data:"):
        raise ValueError(f"not a data URL: {url[:40]!r}")
    header, _comma, payload = url[5:].partition(",")
    if header.endswith(";base64"):
        return base64.b64decode(payload).decode()
    return urllib.parse.unquote(payload)


def files_of(mc_spec: dict) -> dict[str, str]:
    """path -> decoded contents of every file in a MachineConfig spec (a source that is not a data URL as is)."""
    out = {}
    for f in ((mc_spec.get("config") or {}).get("storage") or {}).get("files") or []:
        src = (f.get("contents") or {}).get("source")
        try:
            out[f["path"]] = decode_data_url(src) if src else ""
        except (ValueError, UnicodeDecodeError):
            out[f["path"]] = src
    return out
