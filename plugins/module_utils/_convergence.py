# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""When has a MachineConfigPool really finished rolling out our change?

Right after a MachineConfig changes, the MCO still reports Updated=True for
the old rendered config until its render delay passes; after a node is
labelled, the pool counts the node only once the node controller synced.
A wait that trusts any single field returns early, so a pool is converged for
our change only when everything below agrees: the spec names a rendered
config that carries (or, on removal, lacks) our MachineConfig's content, the
status has caught up with that spec, the conditions and counts say done, and
every node of the pool runs that config.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    CURRENT_CONFIG,
    DESIRED_CONFIG,
    MCD_REASON,
    MCD_STATE,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._pool import conditions, is_paused, paused_message
from ansible_collections.sandboxed.containers.plugins.module_utils._rendered import rendered_carries, rendered_lacks

CONVERGED = "converged"
PROGRESSING = "progressing"
FAILED = "failed"

RENDERED = "rendered"  # phase: the pool targets a rendered config with our change
ROLLED_OUT = "rolled_out"  # phase: every node of the pool runs it


@dataclass
class Assessment:
    state: str
    progress: str
    waiting_for: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def _is(conds: dict, kind: str, status: str) -> bool:
    return (conds.get(kind) or {}).get("status") == status


def ready_condition(node: dict) -> dict:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return {}


def node_failures(members: list[dict], not_ready_for: dict[str, float] | None = None,
                  reboot_timeout: float | None = None) -> list[str]:
    """Nodes the MCO reports Degraded, and nodes that stay NotReady during their update past `reboot_timeout`.

    A node whose CRI-O refuses its configuration after the reboot never runs its kubelet again (the kubelet exits
    without the CRI socket), so nothing on it can report: the MCO never marks it Degraded and the pool only waits.
    How long a node has been NotReady (`not_ready_for`, seconds, as the waiter observed it) is what shows it.
    """
    out = []
    for n in members:
        ann = n["metadata"].get("annotations") or {}
        name = n["metadata"]["name"]
        state = ann.get(MCD_STATE)
        if state in ("Degraded", "Unreconcilable"):
            reason = ann.get(MCD_REASON) or "no reason given"
            out.append(f"node {name} is {state}: {reason}")
            continue
        down = (not_ready_for or {}).get(name)
        updating = ann.get(CURRENT_CONFIG) != ann.get(DESIRED_CONFIG)
        if reboot_timeout and down is not None and down >= reboot_timeout and updating:
            ready = ready_condition(n)
            detail = ": ".join(x for x in (ready.get("status") or "no status", ready.get("message")) if x)
            out.append(
                f"node {name} has not come back from its reboot into {ann.get(DESIRED_CONFIG)}: NotReady "
                f"({detail}) for {int(down)} s, longer than the reboot timeout ({int(reboot_timeout)} s). Its "
                "kubelet does not run; after an update that changed /etc/crio/crio.conf.d/ the likely cause is a "
                "CRI-O that refuses its configuration. Recovery needs the node's console: see docs/troubleshooting.md "
                "(A node stays NotReady after its reboot)"
            )
    return out


def assess(pool: dict, members: list[dict], *, machine_config: str | None = None,
           mc_spec: dict | None = None, present: bool = True, rendered_spec: dict | None = None,
           phase: str = ROLLED_OUT, not_ready_for: dict[str, float] | None = None,
           reboot_timeout: float | None = None) -> Assessment:
    """Decides whether `pool` (with its primary nodes `members`) has converged for our change.

    `mc_spec` is our MachineConfig's spec and `rendered_spec` the spec of the rendered
    config the pool targets (spec.configuration.name), when the caller has it. Failures first
    (pool_failures), then what is still awaited: the render (render_waits), then the rollout (rollout_waits).
    """
    name = pool["metadata"]["name"]
    target = ((pool.get("spec") or {}).get("configuration") or {}).get("name")
    done = [n for n in members if _runs(n, target)]
    working = [n["metadata"]["name"] for n in members if _annotations(n).get(MCD_STATE) == "Working"]
    summary = {
        "pool": name,
        "rendered_config": target,
        "machine_count": len(members),
        "updated_nodes": len(done),
        "working_nodes": working,
    }
    failures = pool_failures(pool, members, phase, not_ready_for, reboot_timeout)
    if failures:
        return Assessment(FAILED, f"{name}: failed", failures=failures, summary=summary)
    waiting = render_waits(pool, machine_config, mc_spec, present, rendered_spec)
    if phase == ROLLED_OUT:
        waiting += rollout_waits(pool, members, len(done))
    if not waiting:
        return Assessment(CONVERGED, f"{name}: {len(done)}/{len(members)} updated, converged on {target}",
                          summary=summary)
    if machine_config and waiting[0].startswith("the MCO to render"):
        progress = f"{name}: waiting for the MCO to render {machine_config}"
    else:
        progress = f"{name}: {len(done)}/{len(members)} updated"
        if working:
            progress += "; " + ", ".join(f"{w} Working" for w in working)
    return Assessment(PROGRESSING, progress, waiting_for=waiting, summary=summary)


def _annotations(node: dict) -> dict:
    return node["metadata"].get("annotations") or {}


def _runs(node: dict, target: str | None) -> bool:
    """Whether the machine-config daemon reports the node done on the rendered config `target`."""
    ann = _annotations(node)
    return ann.get(CURRENT_CONFIG) == target and ann.get(DESIRED_CONFIG) == target and ann.get(MCD_STATE) == "Done"


def pool_failures(pool: dict, members: list[dict], phase: str, not_ready_for: dict[str, float] | None,
                  reboot_timeout: float | None) -> list[str]:
    """Why the pool cannot converge: it cannot render, a node (or the pool) is degraded, it is paused. Once the
    nodes roll out, a failing node is named rather than the pool's NodeDegraded that it causes."""
    name = pool["metadata"]["name"]
    conds = conditions(pool)
    failures = []
    rd = conds.get("RenderDegraded") or {}
    if rd.get("status") == "True":
        failures.append(f"pool {name} cannot render its configuration (RenderDegraded): {rd.get('message') or ''}")
    if phase == ROLLED_OUT:
        failures += node_failures(members, not_ready_for, reboot_timeout)
        nd = conds.get("NodeDegraded") or {}
        if nd.get("status") == "True" and not any(f.startswith("node ") for f in failures):
            failures.append(f"pool {name} is NodeDegraded: {nd.get('reason') or ''} {nd.get('message') or ''}".strip())
    dg = conds.get("Degraded") or {}
    if dg.get("status") == "True" and not failures:
        failures.append(f"pool {name} is Degraded: {dg.get('message') or dg.get('reason') or 'no message'}")
    if is_paused(pool) and phase == ROLLED_OUT and not failures:
        failures.append(paused_message(name))
    return failures


def render_waits(pool: dict, machine_config: str | None, mc_spec: dict | None, present: bool,
                 rendered_spec: dict | None) -> list[str]:
    """What the render still lacks: the pool's sources (not) listing our MachineConfig, a rendered config with
    (without) its current content, the MCO observing the pool's generation."""
    name = pool["metadata"]["name"]
    spec = pool.get("spec") or {}
    target = (spec.get("configuration") or {}).get("name")
    sources = [s.get("name") for s in (spec.get("configuration") or {}).get("source") or []]
    waiting = []
    if machine_config:
        if present and machine_config not in sources:
            waiting.append(f"the MCO to render a configuration for {name} with MachineConfig {machine_config}")
        if not present and machine_config in sources:
            waiting.append(f"the MCO to render a configuration for {name} without MachineConfig {machine_config}")
    if mc_spec is not None and not waiting:
        if rendered_spec is None:
            waiting.append(f"the rendered config {target or '(none yet)'} of {name} to be readable")
        elif present and not rendered_carries(rendered_spec, mc_spec):
            waiting.append(f"a rendered config for {name} with the current content of our MachineConfig")
        elif not present and not rendered_lacks(rendered_spec, mc_spec):
            waiting.append(f"a rendered config for {name} without our files and extensions")
    if (pool.get("status") or {}).get("observedGeneration") != pool["metadata"].get("generation"):
        waiting.append(f"the MCO to observe generation {pool['metadata'].get('generation')} of {name}")
    return waiting


def rollout_waits(pool: dict, members: list[dict], done: int) -> list[str]:
    """What the rollout still lacks: the pool's status, conditions and counts agreeing with the `members` it really
    has, and every one of them (`done` of them so far) running the target config."""
    name = pool["metadata"]["name"]
    status = pool.get("status") or {}
    target = ((pool.get("spec") or {}).get("configuration") or {}).get("name")
    conds = conditions(pool)
    waiting = []
    if (status.get("configuration") or {}).get("name") != target:
        waiting.append(f"{name} to report status.configuration {target}")
    if not _is(conds, "Updated", "True") or not _is(conds, "Updating", "False"):
        waiting.append(f"{name} to be Updated=True and Updating=False")
    if _is(conds, "Degraded", "True") or "Degraded" not in conds:
        waiting.append(f"{name} to report Degraded=False")
    counts = (status.get("machineCount"), status.get("updatedMachineCount"), status.get("readyMachineCount"))
    if counts != (len(members),) * 3 or status.get("degradedMachineCount") not in (0, None):
        waiting.append(
            f"{name} to count {len(members)} machines, all updated and ready "
            f"(machineCount={counts[0]}, updated={counts[1]}, ready={counts[2]})"
        )
    if done != len(members):
        waiting.append(f"{len(members) - done} nodes of {name} to run {target}")
    return waiting
