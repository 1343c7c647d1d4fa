# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Canary, then waves: the order in which the chosen nodes move into the custom pool.

The MCO updates every node of a pool it can (maxUnavailable at a time) as soon as the node is in the pool, so the
only way to hold back part of the chosen nodes is not to move them in yet. The canary nodes move first; once the
pool has converged with them, the others follow a wave at a time, each wave waited for before the next moves. A
node already in the custom pool (a run that stopped half-way) keeps its place at the front, so a re-run resumes
with the same canary and the same waves.

Private module_utils: may change at any time, even in bugfix releases.
"""

from __future__ import annotations

import math
import re

CANARY_SETTING = "sandboxed_containers_canary"
WAVE_SIZE_SETTING = "sandboxed_containers_wave_size"
_PERCENT = re.compile(r"^(\d+)%$")


class WaveError(ValueError):
    """A canary or wave size that cannot be used; the message says what was given and what is allowed."""


def parse_canary(value: object) -> int:
    """The canary count: a whole number, 0 (no canary, the default) or more; digits as text become a number."""
    if value is None or value == "":
        return 0
    count = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise WaveError(f"{CANARY_SETTING} {value!r} is not allowed: give the number of chosen nodes to move into "
                        "the custom pool first, 0 (no canary, the default) or more, at most the number of chosen "
                        "nodes")
    return count


def parse_wave_size(value: object) -> int | str | None:
    """The wave size: a number of nodes (1 or more) or a percentage of the chosen nodes from 1% to 100%; None
    (unset) moves every node after the canary in one wave."""
    if value is None or value == "":
        return None
    size = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    count_ok = isinstance(size, int) and not isinstance(size, bool) and size >= 1
    match = _PERCENT.match(size) if isinstance(size, str) else None
    if not (count_ok or (match and 1 <= int(match.group(1)) <= 100)):
        raise WaveError(f"{WAVE_SIZE_SETTING} {value!r} is not allowed: give a number of nodes (1 or more, at most "
                        "the number of chosen nodes), a percentage of the chosen nodes from 1% to 100% such as 25%, "
                        "or leave it null to move every node after the canary in one wave")
    return size


def requested(canary: int, wave_size: int | str | None) -> bool:
    """Whether the settings ask for waves at all (the defaults keep every chosen node in one move)."""
    return canary > 0 or wave_size is not None


def check_counts(canary: int, wave_size: int | str | None, chosen: list[str]) -> None:
    """Refuses a canary or a wave size larger than the chosen nodes, naming them."""
    total = len(chosen)
    nodes = f"{total} chosen node{'s' if total != 1 else ''} ({', '.join(chosen)})"
    if canary > total:
        raise WaveError(f"{CANARY_SETTING} {canary} is larger than the {nodes}; allowed: 0 to {total}")
    if isinstance(wave_size, int) and wave_size > total:
        raise WaveError(f"{WAVE_SIZE_SETTING} {wave_size} is larger than the {nodes}; allowed: 1 to {total}, or a "
                        "percentage such as 25%")


def wave_nodes(wave_size: int | str | None, total: int, remaining: int) -> int:
    """How many nodes one wave moves: a percentage of the `total` chosen nodes rounds down, at least 1, as the
    MCO's maxUnavailable does; unset: all `remaining`."""
    if wave_size is None:
        return max(1, remaining)
    if isinstance(wave_size, str):
        return max(1, math.floor(total * int(wave_size[:-1]) / 100))
    return wave_size


def plan_waves(chosen: list[str], in_pool: list[str], canary: int, wave_size: int | str | None) -> list[dict]:
    """The waves, in order, or [] when none were asked for.

    Each wave: its `name` (canary, wave 1, wave 2 ...), the `nodes` it moves, `labels` (every node that carries
    the pool's node-role label once it has moved: the waves before it and the chosen nodes already in the pool,
    which never leave it), `moved` (all its nodes are in the pool already) and `later` (the waves after it, in
    words). Nodes already in the pool come
    first, the others by name, so a re-run keeps the canary and the waves of the run it resumes.
    """
    if not requested(canary, wave_size):
        return []
    already = sorted(set(chosen) & set(in_pool))
    order = already + sorted(set(chosen) - set(already))
    groups = [("canary", order[:canary])] if canary else []
    rest = order[canary:]
    while rest:
        size = wave_nodes(wave_size, len(order), len(rest))
        groups.append((f"wave {len(groups) + (0 if canary else 1)}", rest[:size]))
        rest = rest[size:]
    waves, labels = [], set(already)
    for name, nodes in groups:
        labels |= set(nodes)
        waves.append({"name": name, "nodes": nodes, "labels": sorted(labels), "moved": set(nodes) <= set(already)})
    for i, wave in enumerate(waves):
        # What a failure in this wave leaves untouched, for the install's message.
        wave["later"] = ", ".join(f"{w['name']} ({', '.join(w['nodes'])})" for w in waves[i + 1:])
    return waves


def describe(waves: list[dict], pool: str) -> str:
    """The waves in one line, for the plan."""
    parts = [f"{w['name']}: {', '.join(w['nodes'])}{' (in the pool already)' if w['moved'] else ''}" for w in waves]
    return (f"Nodes move into pool {pool} in waves, each waited for before the next moves: {'; '.join(parts)}.")
