"""A MachineConfigPool as the MCO reads it: conditions, paused, maxUnavailable (one place for each)."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._convergence import FAILED, assess
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import (
    MaxUnavailableError,
    conditions,
    is_paused,
    max_unavailable_nodes,
    parse_max_unavailable,
    paused_message,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import pool_health
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import pool


@pytest.mark.parametrize(("given", "parsed"), [
    (None, None), ("", None), (1, 1), (3, 3), ("2", 2), ("25%", "25%"), ("1%", "1%"), ("100%", "100%"),
])
def test_max_unavailable_is_a_count_or_a_percentage(given, parsed):
    assert parse_max_unavailable(given) == parsed
    assert type(parse_max_unavailable(given)) is type(parsed)


@pytest.mark.parametrize("given", [0, -1, True, False, "0", "0%", "101%", "1000%", "%", "a", " 2", 2.5, [1]])
def test_max_unavailable_refuses_anything_else(given):
    with pytest.raises(MaxUnavailableError, match="must be a number of nodes \\(1 or more\\) or a percentage"):
        parse_max_unavailable(given)


@pytest.mark.parametrize(("value", "nodes", "at_once"), [
    (None, 10, 1), (0, 10, 1), (2, 10, 2), ("3", 10, 3), ("25%", 10, 2), ("10%", 3, 1), ("100%", 7, 7),
    ("50%", 5, 2),  # rounds down, as the MCO's node controller does
])
def test_max_unavailable_nodes_as_the_node_controller_counts_them(value, nodes, at_once):
    assert max_unavailable_nodes(value, nodes) == at_once


def test_conditions_by_type_and_paused():
    p = pool("worker", conds={"Updated": "True", "Degraded": "False"}, paused=True)
    assert conditions(p)["Updated"]["status"] == "True" and conditions(p)["Degraded"]["status"] == "False"
    assert conditions({"metadata": {"name": "x"}}) == {}
    assert is_paused(p) and not is_paused(pool("worker"))


def test_the_paused_message_is_one_for_preflight_and_the_wait():
    p = pool("worker", paused=True)
    assert paused_message("worker") in assess(p, [], phase="rolled_out").failures
    assert assess(p, [], phase="rolled_out").state == FAILED
    assert pool_health(p) == paused_message("worker")
    why = pool_health(p, "the chosen nodes move between it and the custom pool")
    assert why.startswith("pool worker (the chosen nodes move between it and the custom pool) is paused")
    assert "oc patch mcp/worker --type merge -p '{\"spec\":{\"paused\":false}}'" in why
