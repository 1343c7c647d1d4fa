# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Kubernetes resource quantities ("250m", "350Mi", "0.25", "1e3"), parsed as the API server does.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}
# The grammar of k8s.io/apimachinery/pkg/api/resource: a signed decimal number
# followed by a binary SI suffix, a decimal SI suffix or a decimal exponent.
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))((?:[eE][+-]?\d+)|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")


class QuantityError(ValueError):
    """An invalid quantity; the message names it and shows valid forms."""


def parse(value: object, what: str = "quantity") -> Decimal:
    """The value of a quantity in base units (cores, bytes); raises QuantityError."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"{what} {value!r} is not a Kubernetes quantity; write it like 250m, 0.5, 350Mi or 1Gi")
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise QuantityError(
            f"{what} {value!r} is not a Kubernetes quantity; write a number with an optional suffix "
            "(m, k, M, G, Ki, Mi, Gi, ...), like 250m, 0.5, 350Mi or 1Gi"
        )
    number, suffix = m.group(1), m.group(2) or ""
    try:
        n = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern only admits decimals
        raise QuantityError(f"{what} {value!r} is not a number") from None
    if suffix[:1] in ("e", "E"):
        return n * (Decimal(10) ** int(suffix[1:]))
    return n * _SUFFIXES[suffix]


def validate_overhead(overhead: object) -> dict[str, str]:
    """Checks a pod overhead mapping (resource name -> quantity); returns it with string values."""
    if not isinstance(overhead, dict) or not overhead:
        raise QuantityError("the overhead must be a mapping like {cpu: 250m, memory: 350Mi}")
    out = {}
    for name, value in overhead.items():
        if not isinstance(name, str) or not name:
            raise QuantityError(f"overhead resource name {name!r} must be a non-empty string such as cpu or memory")
        q = parse(value, f"overhead {name}")
        if q < 0:
            raise QuantityError(f"overhead {name} {value!r} must not be negative")
        out[name] = str(value).strip()
    return out
