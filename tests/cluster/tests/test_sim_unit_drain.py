"""The drain controller's and drain helper's timings and messages (sim.drain) without a cluster."""

from __future__ import annotations

from sim import drain

REAL = drain.Timings()


def test_the_real_defaults_are_the_controllers():
    assert (REAL.eviction_retry, REAL.helper_timeout, REAL.requeue, REAL.failing_threshold, REAL.requeue_failing,
            REAL.timeout) == (5, 90, 60, 600, 300, 3600)


def test_durations_print_as_go_does():
    assert [drain.go_duration(s) for s in (90, 3600, 5, 2.5, 600)] == ["1m30s", "1h0m0s", "5s", "2.5s", "10m0s"]


def test_a_refused_eviction_and_the_helpers_timeout_in_kubectls_words():
    assert drain.eviction_retry("app", "web-1") == ('error when evicting pods/"web-1" -n "app" (will retry after '
                                                    "5s): Cannot evict pod as it would violate the pod's disruption "
                                                    "budget.")
    assert drain.global_timeout("app", "web-1", REAL) == \
        'error when evicting pods/"web-1" -n "app": global timeout reached: 1m30s'


def test_a_failed_run_is_retried_after_a_minute_then_every_five_after_ten_minutes_of_failures():
    err = drain.global_timeout("app", "web-1", REAL)
    delay, line, reason = drain.after_failure(120, err, REAL)
    assert (delay, reason) == (60, None)
    assert line == f"Drain failed. Waiting 1 minute then retrying. Error message from drain: {err}"
    delay, line, reason = drain.after_failure(601, err, REAL)
    assert (delay, reason) == (300, "DrainThresholdExceeded")
    assert line == ("Drain failed. Drain has been failing for more than 10 minutes. Waiting 5 minutes then "
                    f"retrying. Error message from drain: {err}")


def test_past_the_timeout_the_controller_says_so_and_retries():
    assert drain.exceeded("worker-0", REAL) == "node worker-0: drain exceeded timeout: 1h0m0s. Will continue to retry."


def test_the_events_come_with_release_4_19():
    assert not drain.has_events("4.16") and not drain.has_events("4.18")
    assert drain.has_events("4.19") and drain.has_events("4.21")
