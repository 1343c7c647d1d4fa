"""The drain controller's retries, timings and messages, and kubectl's drain helper's. Pure.

Sources (read, not copied): openshift/machine-config-operator pkg/controller/drain/drain_controller.go on
release-4.16 and release-4.21 (DefaultConfig: UpdateDelay 5s, DrainTimeoutDuration 1h, DrainRequeueDelay 1m,
DrainRequeueFailingThreshold 10m, DrainRequeueFailingDelay 5m, DrainHelperTimeout 90s; drainNode: the log lines,
and from release-4.19 the DrainThresholdExceeded and DrainFailed events), and k8s.io/kubectl/pkg/drain/drain.go as
vendored on release-4.16 (evictPods: a refused eviction is retried every 5 s until the helper's global timeout).
"""

from __future__ import annotations

from dataclasses import dataclass

# kubectl's helper: the eviction retry delay is a literal 5 s (drain.go, "will retry after 5s"); the knob
# drain_retry scales it for tests, the message keeps the helper's words.
EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
EVENTS_FROM = (4, 19)  # DrainThresholdExceeded and DrainFailed are events from release-4.19; before, logs only
EVENT_COMPONENT = "machineconfigcontroller-nodecontroller"  # the drain controller's recorder reuses this name


@dataclass(frozen=True)
class Timings:
    eviction_retry: float = 5.0  # helper: a refused eviction, again after 5 s
    helper_timeout: float = 90.0  # DrainHelperTimeout: one helper run gives up after this
    requeue: float = 60.0  # DrainRequeueDelay: the next helper run after a failed one
    failing_threshold: float = 600.0  # DrainRequeueFailingThreshold: failing longer than this ...
    requeue_failing: float = 300.0  # DrainRequeueFailingDelay: ... the next run only after this
    timeout: float = 3600.0  # DrainTimeoutDuration: then "drain exceeded timeout" (and DrainFailed), retries go on


def go_duration(seconds: float) -> str:
    """time.Duration's String(): 1h0m0s, 1m30s, 5s, 2.5s."""
    if seconds < 60:
        return f"{seconds:g}s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    tail = f"{int(m)}m{s:g}s"
    return f"{int(h)}h{tail}" if h else tail


def eviction_retry(namespace: str, pod: str) -> str:
    """The helper's line for each refused eviction (to its ErrOut, which the controller logs)."""
    return f'error when evicting pods/"{pod}" -n "{namespace}" (will retry after 5s): {EVICTION_REFUSED}'


def global_timeout(namespace: str, pod: str, timings: Timings) -> str:
    """The error a helper run returns when its timeout passed while an eviction was still refused."""
    reached = go_duration(timings.helper_timeout)
    return f'error when evicting pods/"{pod}" -n "{namespace}": global timeout reached: {reached}'


def after_failure(failing_for: float, error: str, timings: Timings) -> tuple[float, str, str | None]:
    """A failed helper run: (the requeue delay, the controller's log line, the event reason or None)."""
    if failing_for > timings.failing_threshold:
        return timings.requeue_failing, (
            f"Drain failed. Drain has been failing for more than {timings.failing_threshold / 60:g} minutes. "
            f"Waiting {timings.requeue_failing / 60:g} minutes then retrying. Error message from drain: {error}"
        ), "DrainThresholdExceeded"
    return timings.requeue, (f"Drain failed. Waiting {timings.requeue / 60:g} minute then retrying. "
                             f"Error message from drain: {error}"), None


def exceeded(node: str, timings: Timings) -> str:
    """Logged (and from release-4.19 a DrainFailed event) at each sync once the drain is older than the timeout."""
    return f"node {node}: drain exceeded timeout: {go_duration(timings.timeout)}. Will continue to retry."


def has_events(version: str) -> bool:
    return tuple(int(x) for x in version.split(".")[:2]) >= EVENTS_FROM
