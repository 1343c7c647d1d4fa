# Apache License 2.0 (see LICENSE)
"""Writes when each task starts and ends (wall clock) as JSON lines to $BENCH_TIMELINE.

The benchmark uses it to find the window of the wait task in the API server's
audit log. It only observes: enabled through ANSIBLE_CALLBACKS_ENABLED by the
benchmark, never by the collection.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timeline
type: aggregate
short_description: task start and end times for the benchmark
description: Appends JSON lines (event, task name, wall-clock time) to the file named by BENCH_TIMELINE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        path = os.environ.get("BENCH_TIMELINE")
        # Line-buffered, so a killed run still leaves what it did.
        self._out = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def _write(self, event: str, name: str = "", **extra: object) -> None:
        if self._out:
            self._out.write(json.dumps({"event": event, "task": name, "t": time.time(), **extra}) + "\n")

    def v2_playbook_on_start(self, playbook) -> None:
        self._write("start")

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._write("task", task.get_name())

    def _end(self, result, status: str) -> None:
        r = result._result
        self._write("end", result._task.get_name(), status=status, attempts=r.get("attempts"),
                    api_requests=r.get("api_requests"))

    def v2_runner_on_ok(self, result) -> None:
        self._end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._end(result, "failed")

    def v2_runner_on_skipped(self, result) -> None:
        self._end(result, "skipped")

    def v2_runner_retry(self, result) -> None:
        self._write("retry", result._task.get_name())

    def v2_playbook_on_stats(self, stats) -> None:
        self._write("stats")
