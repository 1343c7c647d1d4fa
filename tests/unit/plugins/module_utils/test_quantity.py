from __future__ import annotations

from decimal import Decimal

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._quantity import (
    QuantityError,
    parse,
    validate_overhead,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", Decimal("0.25")), ("0.25", Decimal("0.25")), ("350Mi", Decimal(350 * 2**20)),
     ("1Gi", Decimal(2**30)), ("1e3", Decimal(1000)), ("2k", Decimal(2000)), (".5", Decimal("0.5")), (1, Decimal(1))],
)
def test_parse(text, value):
    assert parse(text) == value


@pytest.mark.parametrize("bad", ["250 m", "350MB", "1.2.3", "", "m", "1Gib", True, None, [1]])
def test_invalid_quantities_are_refused(bad):
    with pytest.raises(QuantityError) as e:
        parse(bad, "overhead memory")
    assert "overhead memory" in str(e.value)
    assert "250m" in str(e.value)  # the message shows valid forms


def test_overhead():
    assert validate_overhead({"cpu": "250m", "memory": "350Mi"}) == {"cpu": "250m", "memory": "350Mi"}
    with pytest.raises(QuantityError, match="must not be negative"):
        validate_overhead({"cpu": "-1"})
    with pytest.raises(QuantityError, match="mapping"):
        validate_overhead("250m")
