"""A 50-worker rollout: the daemons run in parallel, up to maxUnavailable at a time, one reboot per node.

How fast the simulator rolls out against the floor (waves x node update + render delay) is a performance
figure: `make bench` measures it (all_updated_s beside floor_s), not this test.
"""

from __future__ import annotations

import time

import pytest

from sim import testing as st

WORKERS, UPDATE, MAX_UNAVAILABLE, RENDER_DELAY = 50, 1.0, 10, 5.0


@pytest.mark.slow
def test_fifty_workers_ten_at_a_time(api, figure):
    t0 = time.monotonic()
    st.reset(api, workers=WORKERS, render_delay=RENDER_DELAY, node_update=UPDATE)
    figure(f"reset to {WORKERS} workers: {time.monotonic() - t0:.1f} s")
    try:
        st.patch_pool_spec(api, "worker", {"maxUnavailable": MAX_UNAVAILABLE})
        # The pool change queues a (no-op) render too; let it pass, or the MachineConfig's render
        # would happen early (the queue keeps the earliest time).
        time.sleep(RENDER_DELAY + 0.5)
        mc = st.machine_config("50-kata", "worker", extensions=["sandboxed-containers"],
                               files={"/etc/crio/crio.conf.d/50-kata": st.kata_dropin()})
        with st.pool_samples(api, "worker") as samples:
            t0 = time.monotonic()
            st.create_mc(api, mc)
            p = st.wait_pool_converged(api, "worker", contains=["50-kata"], timeout=120, interval=0.05)
            took = time.monotonic() - t0
        floor = (WORKERS // MAX_UNAVAILABLE) * UPDATE + RENDER_DELAY
        figure(f"{WORKERS}-worker rollout (update {UPDATE:.0f} s, maxUnavailable {MAX_UNAVAILABLE}, render delay "
               f"{RENDER_DELAY:.0f} s): {took:.2f} s; floor {floor:.1f} s; max unavailable seen "
               f"{samples.max_unavailable}")
        assert st.machine_count(p) == {"machine": WORKERS, "updated": WORKERS, "ready": WORKERS, "unavailable": 0,
                                       "degraded": 0}
        assert samples.max_unavailable == MAX_UNAVAILABLE and samples.max_reported == MAX_UNAVAILABLE
        reboots = st.reboots(api)
        assert {reboots[f"worker-{i}"] for i in range(WORKERS)} == {1}
        assert {reboots[f"master-{i}"] for i in range(3)} == {0}
    finally:
        st.reset(api, render_delay=1, node_update=0.5)
