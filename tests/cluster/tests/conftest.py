"""Fixtures of the simulator's integration tests (`cluster` comes from localcluster.pytest_plugin)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from sim import testing as st

# Short times for tests; tests that need other values call st.reset themselves.
FAST = {"render_delay": 1, "node_update": 0.5}
FIGURES: list[str] = []


@pytest.fixture
def figure(request):
    """Records a measured figure; they are printed at the end of the run."""
    def record(line: str) -> None:
        # In the test's report, so that they reach the controller from pytest-xdist's workers too.
        request.node.user_properties.append(("figure", line))
        print(line)
    return record


def pytest_runtest_logreport(report) -> None:
    if report.when == "teardown":  # the last report of a test carries every property it recorded
        FIGURES.extend(value for key, value in report.user_properties if key == "figure")


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("simulator figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def api(cluster) -> Iterator[client.ApiClient]:
    a = cluster.api()
    yield a
    st.kube(a).close()
    a.close()


@pytest.fixture
def sim(api) -> client.ApiClient:
    """The session cluster, reset to a fresh standard cluster with fast knobs."""
    st.reset(api, **FAST)
    return api


@pytest.fixture
def sim_namespace(api) -> Iterator[str]:
    name = f"sim-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)
