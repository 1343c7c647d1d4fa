"""The wait's watches on a real API server: re-established when the server ends them, never a new LIST.

The server ends each watch after the timeout the wait asks for (240 s in use). Here it asks for 1 s, so a
rollout of a few seconds goes through several of them; the requests grow by one WATCH per kind and expiry,
and the wait neither lists again nor misses an event (it still sees the rollout finish).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from kubernetes.dynamic import DynamicClient

from ansible_collections.sandboxed.containers.plugins.module_utils import _watch
from ansible_collections.sandboxed.containers.plugins.module_utils._watch import PoolWaiter
from sim import testing as st

MC = "50-sandboxed-containers"


# What the wait reads: pools and nodes (LIST, then WATCH), the MachineConfig and the rendered configs (GET by
# name), and, while a drain stays pending, the node's pods and the PodDisruptionBudgets (LIST).
COLLECTIONS = ("machineconfigpools", "nodes", "pods", "poddisruptionbudgets")


def requests_of(log: Path, start: int, user: str = "admin") -> list[tuple[str, str]]:
    """(verb, resource) of the user's requests the wait makes, once each (a watch is logged twice: when its
    response starts and when it completes). Discovery (/api, /apis) has no objectRef and is left out."""
    seen, out = set(), []
    for line in log.read_text().splitlines()[start:]:
        e = json.loads(line)
        ref = e.get("objectRef") or {}
        if e["user"]["username"] != user or e["auditID"] in seen:
            continue
        by_name = ref.get("resource") == "machineconfigs" and ref.get("name") and e["verb"] == "get"
        if by_name or (ref.get("resource") in COLLECTIONS and not ref.get("name")):
            seen.add(e["auditID"])
            out.append((e["verb"], ref["resource"]))
    return out


def requests_when_logged(log: Path, start: int, counted: int, within: float = 10.0) -> list[tuple[str, str]]:
    """The wait's requests once the server has logged as many as it counted: a watch it started just before it
    returned is logged when its response starts, a moment later (it ends within WATCH_SECONDS)."""
    deadline = time.monotonic() + within
    while True:
        reqs = requests_of(log, start)
        if len(reqs) >= counted or time.monotonic() > deadline:
            return reqs
        time.sleep(0.2)


def test_watches_are_re_established_on_expiry_without_listing_again(cluster, monkeypatch):
    api = cluster.api()
    st.reset(api, topology="standard", workers=3, render_delay=1, node_update=1.5)
    monkeypatch.setattr(_watch, "WATCH_SECONDS", 1)
    # Every pending drain is looked up at once (DRAIN_LOOK_AFTER is 2 s in use): the count below includes those
    # lookups whatever the machine's speed, where before it held only when no drain outlasted 2 s.
    monkeypatch.setattr(_watch, "DRAIN_LOOK_AFTER", 0)
    log = cluster.local.logs / "audit.log"
    st.create_mc(api, st.machine_config(MC, "worker", files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()},
                                        extensions=["sandboxed-containers"]))
    try:
        start = len(log.read_text().splitlines())
        waiter = PoolWaiter(DynamicClient(api), ["worker"], machine_config=MC)
        outcome = waiter.wait(timeout=120)
        reqs = requests_when_logged(log, start, outcome.requests)  # before this test reads anything itself
        assert outcome.state == "converged", outcome
        reboots = st.reboots(api)
        assert reboots == {n: (1 if n.startswith("worker") else 0) for n in reboots}, reboots
        for resource in ("machineconfigpools", "nodes"):
            assert reqs.count(("list", resource)) == 1, reqs  # one LIST, then only WATCHes from its version
            # The server ended the watch several times during the rollout (the render, then three node updates
            # of 1.5 s each, outlast several 1 s watches), and each time it was watched again.
            assert reqs.count(("watch", resource)) >= 3, reqs
        # What the wait counted is what the server saw: its GETs of the MachineConfig and of the rendered configs
        # it compared, and the drain lookups of each worker (pods and PodDisruptionBudgets, once per drain of
        # under DRAIN_LOOK_EVERY s), besides the LISTs and WATCHes above.
        assert outcome.requests == len(reqs), (outcome.requests, reqs)
        assert reqs.count(("get", "machineconfigs")) in (2, 3), reqs  # the MachineConfig, 1-2 rendered configs
        # A drain the wait saw pending was looked up (a drain the simulated controller finished between two of the
        # wait's assessments, on a loaded machine, is not seen at all).
        assert 1 <= reqs.count(("list", "pods")) == reqs.count(("list", "poddisruptionbudgets")) <= 3, reqs
    finally:
        st.delete_mc(api, MC)
