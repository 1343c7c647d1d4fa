"""Canary, then waves: the settings, and the order in which the chosen nodes move into the custom pool."""

from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._waves import (
    WaveError,
    check_counts,
    describe,
    parse_canary,
    parse_wave_size,
    plan_waves,
    wave_nodes,
)

NODES = ["worker-0", "worker-1", "worker-2", "worker-3"]


@pytest.mark.parametrize(("value", "count"), [(None, 0), ("", 0), (0, 0), (2, 2), ("3", 3)])
def test_canary_counts(value, count):
    assert parse_canary(value) == count


@pytest.mark.parametrize("value", [-1, "-1", "two", 1.5, True, "50%"])
def test_a_canary_that_is_not_a_count_is_refused_saying_what_was_given_and_what_is_allowed(value):
    with pytest.raises(WaveError, match=r"sandboxed_containers_canary .* is not allowed: .* 0 \(no canary"):
        parse_canary(value)


@pytest.mark.parametrize(("value", "size"), [(None, None), ("", None), (1, 1), ("2", 2), ("25%", "25%"),
                                             ("100%", "100%")])
def test_wave_sizes(value, size):
    assert parse_wave_size(value) == size


@pytest.mark.parametrize("value", [0, -2, "0", "0%", "101%", "150%", "-5%", "abc", 2.5, False])
def test_a_wave_size_of_zero_negative_or_over_100_percent_is_refused(value):
    with pytest.raises(WaveError) as e:
        parse_wave_size(value)
    assert f"sandboxed_containers_wave_size {value!r} is not allowed" in str(e.value)
    assert "1 or more" in str(e.value) and "from 1% to 100%" in str(e.value)


def test_a_canary_or_wave_size_larger_than_the_chosen_nodes_is_refused_naming_them():
    chosen = NODES[:3]
    with pytest.raises(WaveError, match=r"sandboxed_containers_canary 4 is larger than the 3 chosen nodes "
                                        r"\(worker-0, worker-1, worker-2\); allowed: 0 to 3"):
        check_counts(4, None, chosen)
    with pytest.raises(WaveError, match=r"sandboxed_containers_wave_size 5 is larger than the 3 chosen nodes .*"
                                        r"allowed: 1 to 3"):
        check_counts(0, 5, chosen)
    check_counts(3, 3, chosen)  # as many as chosen: allowed
    check_counts(0, "100%", chosen)


def test_a_percentage_rounds_down_to_at_least_one_node():
    assert wave_nodes("25%", 10, 9) == 2
    assert wave_nodes("10%", 4, 4) == 1
    assert wave_nodes(None, 10, 7) == 7
    assert wave_nodes(3, 10, 7) == 3


def test_no_waves_by_default():
    assert plan_waves(NODES, [], 0, None) == []


def test_canary_then_waves_by_name():
    waves = plan_waves(["worker-3", "worker-1", "worker-0", "worker-2"], [], 1, 2)
    assert [(w["name"], w["nodes"], w["labels"]) for w in waves] == [
        ("canary", ["worker-0"], ["worker-0"]),
        ("wave 1", ["worker-1", "worker-2"], ["worker-0", "worker-1", "worker-2"]),
        ("wave 2", ["worker-3"], NODES),
    ]
    assert not any(w["moved"] for w in waves)
    assert [w["later"] for w in waves] == ["wave 1 (worker-1, worker-2), wave 2 (worker-3)", "wave 2 (worker-3)", ""]


def test_a_canary_alone_moves_the_rest_in_one_wave_and_a_wave_size_alone_has_no_canary():
    assert [w["nodes"] for w in plan_waves(NODES, [], 1, None)] == [["worker-0"], NODES[1:]]
    assert [(w["name"], w["nodes"]) for w in plan_waves(NODES, [], 0, "50%")] == [
        ("wave 1", ["worker-0", "worker-1"]), ("wave 2", ["worker-2", "worker-3"])]


def test_a_rerun_resumes_with_the_same_canary_and_waves():
    first = plan_waves(NODES, [], 1, 2)
    # The canary moved and failed: it is still the canary, the waves after it are the same.
    again = plan_waves(NODES, ["worker-0"], 1, 2)
    assert [w["nodes"] for w in again] == [w["nodes"] for w in first]
    assert [w["moved"] for w in again] == [True, False, False]
    # Stopped in wave 1: the canary and wave 1 moved already.
    assert [w["moved"] for w in plan_waves(NODES, NODES[:3], 1, 2)] == [True, True, False]


def test_nodes_already_in_the_pool_come_first_and_never_leave_it():
    # worker-3 was in the pool before (an earlier, narrower selector): it is the canary, and every wave keeps it.
    waves = plan_waves(NODES, ["worker-3"], 1, 1)
    assert waves[0]["nodes"] == ["worker-3"] and waves[0]["moved"]
    assert all("worker-3" in w["labels"] for w in waves)
    # More nodes in the pool than the canary: each wave's labels keep all of them.
    waves = plan_waves(NODES, ["worker-2", "worker-3"], 1, None)
    assert waves[0]["labels"] == ["worker-2", "worker-3"]
    assert waves[1]["nodes"] == ["worker-3", "worker-0", "worker-1"]


def test_describe():
    text = describe(plan_waves(NODES[:3], ["worker-0"], 1, 1), "kata-oc")
    assert text == ("Nodes move into pool kata-oc in waves, each waited for before the next moves: "
                    "canary: worker-0 (in the pool already); wave 1: worker-1; wave 2: worker-2.")
