"""The wait's watches on a real API server: re-established when the server ends them, never a new LIST.

The server ends each watch after the timeout the wait asks for (240 s in use). Here it asks for 1 s, so a
rollout of a few seconds goes through several of them; the requests grow by one WATCH per kind and expiry,
and the wait neither lists again nor misses an event (it still sees the rollout finish).
"""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes.dynamic import DynamicClient

from ansible_collections.sandboxed.containers.plugins.module_utils import _watch
from ansible_collections.sandboxed.containers.plugins.module_utils._watch import PoolWaiter
from sim import testing as st

MC = "50-sandboxed-containers"


def requests_of(log: Path, start: int, user: str = "admin") -> list[tuple[str, str]]:
    """(verb, resource) of the user's requests on pools and nodes, once each (a watch is logged twice)."""
    seen, out = set(), []
    for line in log.read_text().splitlines()[start:]:
        e = json.loads(line)
        ref = e.get("objectRef") or {}
        if e["user"]["username"] != user or e["auditID"] in seen:
            continue
        if ref.get("resource") in ("machineconfigpools", "nodes") and not ref.get("name"):
            seen.add(e["auditID"])
            out.append((e["verb"], ref["resource"]))
    return out


def test_watches_are_re_established_on_expiry_without_listing_again(cluster, monkeypatch):
    api = cluster.api()
    st.reset(api, topology="standard", workers=3, render_delay=1, node_update=1.5)
    monkeypatch.setattr(_watch, "WATCH_SECONDS", 1)
    log = cluster.local.logs / "audit.log"
    st.create_mc(api, st.machine_config(MC, "worker", files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()},
                                        extensions=["sandboxed-containers"]))
    try:
        start = len(log.read_text().splitlines())
        waiter = PoolWaiter(DynamicClient(api), ["worker"], machine_config=MC)
        outcome = waiter.wait(timeout=120)
        reqs = requests_of(log, start)  # before this test reads anything itself
        assert outcome.state == "converged", outcome
        reboots = st.reboots(api)
        assert reboots == {n: (1 if n.startswith("worker") else 0) for n in reboots}, reboots
        for resource in ("machineconfigpools", "nodes"):
            assert reqs.count(("list", resource)) == 1, reqs  # one LIST, then only WATCHes from its version
            # The server ended the watch several times during the rollout (the render, then three node updates
            # of 1.5 s each, outlast several 1 s watches), and each time it was watched again.
            assert reqs.count(("watch", resource)) >= 3, reqs
        # What the wait counted is what the server saw, plus its GETs of the MachineConfig and of the rendered
        # configs it compared.
        assert 1 <= outcome.requests - len(reqs) <= 3, (outcome.requests, reqs)
    finally:
        st.delete_mc(api, MC)
