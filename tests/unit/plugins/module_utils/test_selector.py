from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._selector import (
    SelectorError,
    is_empty,
    matches,
    to_string,
    validate,
)

LABELS = {"node-role.kubernetes.io/worker": "", "topology.kubernetes.io/zone": "zone-a", "tier": "gold"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"tier": "gold"}}, True),
        ({"matchLabels": {"tier": "silver"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold", "x"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]}, False),
        ({"matchExpressions": [{"key": "absent", "operator": "NotIn", "values": ["gold"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "absent", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "absent", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
        ({"matchLabels": {"tier": "gold"},
          "matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-b"]}]}, False),
    ],
)
def test_matches_all_four_operators(selector, expected):
    assert matches(validate(selector), LABELS) is expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ({"matchExpressions": [{"key": "tier", "operator": "in", "values": ["a"]}]},
         "operator 'in' is not valid; use one of In, NotIn, Exists, DoesNotExist"),
        ({"matchExpressions": [{"key": "tier", "operator": "In"}]}, "operator In needs a non-empty list of values"),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["a"]}]},
         "operator Exists takes no values"),
        ({"matchLabels": {"tier": True}}, "must be a string (quote it in YAML"),
        ({"matchLabels": {"bad key!": "x"}}, "label key 'bad key!' must be at most 63 characters"),
        ({"matchLabel": {"tier": "gold"}}, "unknown keys ['matchLabel']"),
        ({"matchExpressions": {"key": "tier"}}, "matchExpressions must be a list"),
        ("tier=gold", "must be a mapping"),
    ],
)
def test_invalid_selectors_say_what_is_wrong(selector, message):
    with pytest.raises(SelectorError, match=None) as e:
        validate(selector, "sandboxed_containers_node_selector")
    assert message in str(e.value)
    assert str(e.value).startswith("sandboxed_containers_node_selector")


def test_empty_and_string_form():
    assert is_empty(validate(None))
    assert not is_empty(validate({"matchLabels": {"a": "b"}}))
    sel = validate({"matchLabels": {"a": "b"}, "matchExpressions": [
        {"key": "c", "operator": "NotIn", "values": ["d", "e"]}, {"key": "f", "operator": "DoesNotExist"}]})
    assert to_string(sel) == "a=b,c notin (d,e),!f"
