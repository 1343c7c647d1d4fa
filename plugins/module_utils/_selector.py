# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Kubernetes label selectors: validation with clear messages, and matching.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import re

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class SelectorError(ValueError):
    """An invalid selector; the message says what is wrong and how to fix it."""


def label_key_error(key: object) -> str | None:
    """Why a label key is invalid (Kubernetes qualified-name rules), or None."""
    if not isinstance(key, str) or not key:
        return "a label key must be a non-empty string"
    prefix, _slash, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"the prefix {prefix!r} of label key {key!r} must be a DNS subdomain (lowercase, dots, dashes)"
    if len(name) > 63 or not _NAME.match(name):
        return (
            f"label key {key!r} must be at most 63 characters of letters, digits, '-', '_' or '.', "
            "beginning and ending with a letter or digit (with an optional 'prefix/')"
        )
    return None


def label_value_error(value: object) -> str | None:
    if not isinstance(value, str):
        return f"label value {value!r} must be a string (quote it in YAML, e.g. \"true\")"
    if len(value) > 63 or not _VALUE.match(value):
        return (
            f"label value {value!r} must be empty or at most 63 characters of letters, digits, '-', '_' "
            "or '.', beginning and ending with a letter or digit"
        )
    return None


def validate(selector: object, what: str = "selector") -> dict:
    """Returns the selector normalised to {matchLabels, matchExpressions}; raises SelectorError."""
    if selector is None:
        return {"matchLabels": {}, "matchExpressions": []}
    if not isinstance(selector, dict):
        raise SelectorError(f"{what} must be a mapping with matchLabels and/or matchExpressions")
    unknown = sorted(set(selector) - {"matchLabels", "matchExpressions"})
    if unknown:
        raise SelectorError(
            f"{what} has unknown keys {unknown}; a label selector has only matchLabels and matchExpressions"
        )
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise SelectorError(f"{what}.matchLabels must be a mapping of label keys to values")
    for k, v in labels.items():
        err = label_key_error(k) or label_value_error(v)
        if err:
            raise SelectorError(f"{what}.matchLabels: {err}")
    exprs = selector.get("matchExpressions") or []
    if not isinstance(exprs, list):
        raise SelectorError(f"{what}.matchExpressions must be a list of {{key, operator, values}}")
    out = []
    for i, e in enumerate(exprs):
        where = f"{what}.matchExpressions[{i}]"
        if not isinstance(e, dict):
            raise SelectorError(f"{where} must be a mapping with key, operator and values")
        extra = sorted(set(e) - {"key", "operator", "values"})
        if extra:
            raise SelectorError(f"{where} has unknown keys {extra}; use key, operator and values")
        err = label_key_error(e.get("key"))
        if err:
            raise SelectorError(f"{where}: {err}")
        op = e.get("operator")
        if op not in OPERATORS:
            raise SelectorError(
                f"{where}: operator {op!r} is not valid; use one of In, NotIn, Exists, DoesNotExist "
                "(case-sensitive)"
            )
        values = e.get("values")
        if op in ("In", "NotIn"):
            if not isinstance(values, list) or not values:
                raise SelectorError(f"{where}: operator {op} needs a non-empty list of values")
            for v in values:
                err = label_value_error(v)
                if err:
                    raise SelectorError(f"{where}: {err}")
        elif values:
            raise SelectorError(f"{where}: operator {op} takes no values; remove 'values'")
        item = {"key": e["key"], "operator": op}
        if op in ("In", "NotIn"):
            item["values"] = list(values)
        out.append(item)
    return {"matchLabels": dict(labels), "matchExpressions": out}


def is_empty(selector: dict | None) -> bool:
    return not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions"))


def matches(selector: dict | None, labels: dict | None) -> bool:
    """Label selector semantics of Kubernetes: every requirement must hold; empty matches all."""
    labels = labels or {}
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op = e["key"], e["operator"]
        if op == "In" and labels.get(key) not in (e.get("values") or []):
            return False
        if op == "NotIn" and key in labels and labels[key] in (e.get("values") or []):
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def to_string(selector: dict | None) -> str:
    """The selector in kubectl's string form (for messages and label_selector queries)."""
    parts = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for e in (selector or {}).get("matchExpressions") or []:
        op = e["operator"]
        if op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{e['key']}")
        else:
            parts.append(f"{e['key']} {'in' if op == 'In' else 'notin'} ({','.join(e['values'])})")
    return ",".join(parts)
