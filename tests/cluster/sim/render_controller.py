"""The render controller (pkg/controller/render/render_controller.go), I/O part.

A pool is rendered `renderDelay` after a change of a MachineConfig it selects
or of its own spec (the delay is in the simulator's event handlers, as the
MCO's enqueueDefault); a pool that was never rendered is rendered at once,
as the MCO's bootstrap does. Failures set RenderDegraded and are retried with
the MCO's rate limiter.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import pools as P
from . import render
from .constants import EVENT_COMPONENT_CONTROLLER, MCO_API, MCO_NAMESPACE, RENDER_DEGRADED
from .kube import ApiError, mc_path, now_rfc3339, ref
from .simulator import Requeue

if TYPE_CHECKING:
    from .simulator import Simulator

log = logging.getLogger("sim.render")

MAX_RETRIES = 15


class RenderController:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.failures: dict[str, int] = {}

    def sync(self, name: str) -> None:
        sim = self.sim
        pool = sim.pools.get(name)
        if pool is None or pool["metadata"].get("deletionTimestamp"):
            self.failures.pop(name, None)
            return
        spec = pool.get("spec") or {}
        sel = spec.get("machineConfigSelector")
        if isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self._event(pool, "Warning", "SelectingAll",
                        "This machineconfigpool is selecting all machineconfigs. A non-empty selector is required.")
            return
        cur_name = (spec.get("configuration") or {}).get("name") or ""
        current = sim.mcs.get(cur_name) if cur_name else None
        try:
            rendered = render.render(pool, sim.mcs.items(), sim.knobs, current)
        except (render.RenderError, ValueError) as e:
            self._failing(pool, render.failing_message(name, e))
            return
        self.failures.pop(name, None)
        if sim.mcs.get(rendered.name) is None:
            try:
                created = sim.kube.create(mc_path(), rendered.machine_config)
                sim.mcs.apply(created)
                log.info("pool %s: generated %s", name, rendered.name)
                ann = rendered.machine_config["metadata"]["annotations"]
                self._event(pool, "Normal", "RenderedConfigGenerated",
                            f"{rendered.name} successfully generated (release version: "
                            f"{ann.get('machineconfiguration.openshift.io/release-image-version', '')}, "
                            f"controller version: "
                            f"{ann.get('machineconfiguration.openshift.io/generated-by-controller-version', '')})")
            except ApiError as e:
                if not e.exists:
                    raise
                sim.refresh(sim.mcs, mc_path(rendered.name))
        configuration = spec.get("configuration") or {}
        if configuration.get("name") != rendered.name or (configuration.get("source") or []) != rendered.source:
            # A spec update: it bumps metadata.generation (mco.md 2.2 step 8).
            pool = sim.patch_pool(pool, {"spec": {"configuration": {"name": rendered.name,
                                                                    "source": rendered.source}}}, status=False)
            if pool is None:
                return
            if configuration.get("name") != rendered.name:
                log.info("pool %s: now targeting %s", name, rendered.name)
        status = pool.get("status") or {}
        cond = P.condition(status, RENDER_DEGRADED)
        if cond is None or cond.get("status") != "False":
            new = {"conditions": [dict(c) for c in status.get("conditions") or []]}
            P.set_condition(new, RENDER_DEGRADED, "False", "", "", now_rfc3339())
            sim.patch_pool(pool, {"status": new}, status=True)

    def _failing(self, pool: dict, message: str) -> None:
        name = P.name(pool)
        status = pool.get("status") or {}
        new = {"conditions": [dict(c) for c in status.get("conditions") or []]}
        P.set_condition(new, RENDER_DEGRADED, "True", "", message, now_rfc3339())
        if new["conditions"] != (status.get("conditions") or []):
            log.warning("%s", message)
            self.sim.patch_pool(pool, {"status": new}, status=True)
        # handleErr: retried through the rate limiter, then once a minute.
        n = self.failures.get(name, 0) + 1
        self.failures[name] = n
        delay = 60.0 if n > MAX_RETRIES else min(60.0, 0.005 * 2 ** (n - 1))
        raise Requeue(delay)

    def _event(self, pool: dict, etype: str, reason: str, message: str) -> None:
        involved = ref({**pool, "apiVersion": MCO_API, "kind": "MachineConfigPool"}, MCO_NAMESPACE)
        self.sim.events.emit(involved, etype, reason, message, EVENT_COMPONENT_CONTROLLER,
                             namespace=MCO_NAMESPACE)
