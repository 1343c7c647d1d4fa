"""Label selectors as Kubernetes evaluates and prints them (apimachinery labels).

`metav1.LabelSelectorAsSelector`: a nil selector selects nothing, an empty
one everything; the MCO treats both "nil" and "empty" as "selects nothing"
where it matters (mco.md 3.1), which callers decide with `is_empty`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SelectorError(ValueError):
    pass


def _requirements(sel: Mapping[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    reqs: list[tuple[str, str, tuple[str, ...]]] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "=", (str(v),)))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        key = e.get("key", "")
        values = tuple(str(x) for x in e.get("values") or ())
        if op in ("In", "NotIn"):
            if not values:
                raise SelectorError("values: Invalid value: []string(nil): for 'in', 'notin' operators, "
                                    "values set can't be empty")
            reqs.append((key, "in" if op == "In" else "notin", values))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                raise SelectorError("values: Invalid value: for 'exists', 'doesnotexist' operators, "
                                    "values set must be empty")
            reqs.append((key, "exists" if op == "Exists" else "!", ()))
        else:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
    reqs.sort(key=lambda r: r[0])
    return reqs


def is_empty(sel: Mapping[str, Any] | None) -> bool:
    """True for a nil selector or one without requirements (selects nothing for the MCO)."""
    return not sel or (not sel.get("matchLabels") and not sel.get("matchExpressions"))


def matches(sel: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Kubernetes semantics: nil selects nothing, {} selects everything."""
    if sel is None:
        return False
    labels = labels or {}
    for key, op, values in _requirements(sel):
        present = key in labels
        if op == "=":
            if not present or labels[key] != values[0]:
                return False
        elif op == "in":
            if not present or labels[key] not in values:
                return False
        elif op == "notin":
            if present and labels[key] in values:
                return False
        elif op == "exists":
            if not present:
                return False
        elif op == "!" and present:
            return False
    return True


def mco_matches(sel: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """The MCO's rule: a nil or empty selector matches nothing (helpers.ListPools)."""
    return not is_empty(sel) and matches(sel, labels)


def to_string(sel: Mapping[str, Any] | None) -> str:
    """labels.Selector.String() of LabelSelectorAsSelector(sel)."""
    if sel is None:
        return ""
    parts = []
    for key, op, values in _requirements(sel):
        if op == "=":
            parts.append(f"{key}={values[0]}")
        elif op in ("in", "notin"):
            parts.append(f"{key} {op} ({','.join(sorted(set(values)))})")
        elif op == "exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return ",".join(parts)
