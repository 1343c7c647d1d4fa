"""The benchmark's table, wait-length series and plot."""

from __future__ import annotations

from pathlib import Path


def allowed_overhead(floor_s: float) -> float:
    """The target: at most 2 s + 2 % of the floor over the floor."""
    return 2.0 + 0.02 * floor_s


# The memory target: the collection's peak PSS at most this much over the baseline playbook's, in the same case.
PSS_OVER_BASELINE = 0.15


def pss_over_baseline(case: dict, cases: list[dict]) -> float | None:
    """How much the case's peak PSS exceeds the baseline's in the same case (0.1 = 10 % more), or None. PSS, not
    RSS: RSS counts a page shared by the forked workers once per process, PSS divides it among them."""
    same = [c for c in cases if c["tool"] == "baseline" and (c["workers"], c["max_unavailable"], c["node_update_s"])
            == (case["workers"], case["max_unavailable"], case["node_update_s"])]
    if not same or not same[0]["peak_pss_mb"]:
        return None
    return case["peak_pss_mb"] / same[0]["peak_pss_mb"] - 1


def _reboots(values: list[int]) -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def print_table(cases: list[dict]) -> None:
    cols = ("tool", "N", "mu", "floor s", "wall s", "ratio", "over s", "target s", "ansible s", "first ready s",
            "reboots ch/oth", "req inst",
            "req wait", "wait s", "rerun s", "RSS MB", "PSS MB", "early")
    rows = []
    for c in sorted(cases, key=lambda c: (c["workers"], c["max_unavailable"], c["tool"] != "collection")):
        rows.append((c["tool"], c["workers"], c["max_unavailable"], c["floor_s"], c["wall_s"], c["ratio"],
                     c["overhead_s"], round(allowed_overhead(c["floor_s"]), 2), c.get("ansible_floor_s", "-"),
                     c.get("first_ready_s") or "-",
                     f"{_reboots(c['reboots_chosen'])}/{_reboots(c['reboots_other'])}", c["api_requests_install"],
                     c["api_requests_wait"], c["wait_s"], c["rerun_s"], c["peak_rss_mb"], c["peak_pss_mb"],
                     "yes" if c["returned_early"] else "no"))
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows, strict=False)]
    print()
    for row in (cols, *rows):
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))


def print_growth(cases: list[dict], workers: int) -> None:
    """Requests during the wait against the wait's length, at the same N (mu=1)."""
    series = sorted((c for c in cases if c["workers"] == workers and c["max_unavailable"] == "1"),
                    key=lambda c: (c["tool"], c["node_update_s"]))
    if len({c["node_update_s"] for c in series}) < 2:
        return
    print(f"\nrequests during the wait against its length ({workers} workers, maxUnavailable 1):")
    for c in series:
        print(f"  {c['tool']:>10}  node update {c['node_update_s']:g} s: wait {c['wait_s']} s, "
              f"{c['api_requests_wait']} requests, {c['wait_attempts'] or 1} attempt(s), "
              f"returned early: {'yes' if c['returned_early'] else 'no'}")


def plot(timelines: list[dict], path: Path) -> None:
    """The pool's updatedMachineCount over time, for both tools, in up to two cases."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(t["workers"], t["max_unavailable"], t["node_update_s"]) for t in timelines})
    wanted = [k for k in ((20, "1", 1.0), (100, "25%", 1.0)) if k in keys] or keys[:2]
    fig, axes = plt.subplots(1, len(wanted), figsize=(6.5 * len(wanted), 4.2), squeeze=False)
    colors = {"collection": "tab:blue", "baseline": "tab:orange"}
    for ax, (n, mu, t) in zip(axes[0], wanted, strict=True):
        for tl in (x for x in timelines if (x["workers"], x["max_unavailable"], x["node_update_s"]) == (n, mu, t)):
            pts = [(max(0.0, p[0]), p[1]) for p in tl["pool_updated"]]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            color = colors.get(tl["tool"], "gray")
            ax.step(xs, ys, where="post", color=color, label=f"{tl['tool']}: pool updatedMachineCount")
            ax.axvline(tl["end_s"], color=color, linestyle="--", label=f"{tl['tool']} returned ({tl['end_s']:.0f} s)")
            if tl["tool"] == "collection" and tl.get("mc_written_s") is not None:
                ax.axvline(tl["mc_written_s"] + tl["floor_s"], color="gray", linestyle=":",
                           label="MachineConfig written + floor")
        ax.set_title(f"{n} workers, maxUnavailable {mu}, node update {t:g} s")
        ax.set_xlabel("seconds since ansible-playbook started")
        ax.set_ylabel("updated machines (as the pool reports)")
        ax.set_ylim(bottom=0, top=n * 1.08)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f} %"


def _first_ready(case: dict) -> str:
    """first_ready_s (first_ready_after_mc_s; first_ready_floor_s), or - for a case run before it was measured."""
    if case.get("first_ready_s") is None:
        return "-"
    after, floor = case.get("first_ready_after_mc_s", "-"), case.get("first_ready_floor_s", "-")
    return f"{case['first_ready_s']} ({after}; {floor})"


def markdown(cases: list[dict]) -> str:
    """The results as the Markdown table of docs/performance.md."""
    head = ("| tool | N | maxUnav. | floor s | wall s | ratio | overhead s | target s | Ansible floor s "
            "| overhead over it s | first ready s (after the MachineConfig; floor) | reboots chosen / other "
            "| requests install | requests wait | wait s | re-run s | peak PSS MB (RSS) | PSS vs baseline "
            "| returned early |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for c in sorted(cases, key=lambda c: (c["node_update_s"], c["workers"], c["max_unavailable"],
                                          c["tool"] != "collection")):
        lines.append(
            f"| {c['tool']} | {c['workers']} | {c['max_unavailable']} | {c['floor_s']:g} | {c['wall_s']} "
            f"| {c['ratio']} | {c['overhead_s']} | {allowed_overhead(c['floor_s']):.2f} "
            f"| {c.get('ansible_floor_s', '-')} | {c.get('overhead_over_ansible_s', '-')} | {_first_ready(c)} "
            f"| {_reboots(c['reboots_chosen'])} / {_reboots(c['reboots_other'])} | {c['api_requests_install']} "
            f"| {c['api_requests_wait']} | {c['wait_s']} | {c['rerun_s']} | {c['peak_pss_mb']} ({c['peak_rss_mb']}) "
            f"| {_percent(pss_over_baseline(c, cases)) if c['tool'] == 'collection' else '-'} "
            f"| {'yes' if c['returned_early'] else 'no'} |")
    return "\n".join(lines)


def breakdown_markdown(cases: list[dict]) -> str:
    """Where each tool's time over the floor goes: before the MachineConfig is written, the MCO's own
    lag over the floor (render and rollout), and after every chosen node is updated."""
    head = ("| tool | N | maxUnav. | node update s | MachineConfig written at s | render s (floor: delay) "
            "| rollout s (floor) | after the rollout s | overhead s | startup s | module tasks s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for c in sorted(cases, key=lambda c: (c["node_update_s"], c["workers"], c["max_unavailable"],
                                          c["tool"] != "collection")):
        if c.get("mc_written_s") is None or c.get("rendered_s") is None:
            continue
        floor_rollout = c["floor_s"] - c["render_delay_s"]
        modules = sum(t[1] for t in c["install_breakdown"]["tasks_over_100ms"] if not t[0].startswith("Wait"))
        lines.append(
            f"| {c['tool']} | {c['workers']} | {c['max_unavailable']} | {c['node_update_s']:g} "
            f"| {c['mc_written_s']} | {c['rendered_s'] - c['mc_written_s']:.2f} ({c['render_delay_s']:g}) "
            f"| {c['all_updated_s'] - c['rendered_s']:.2f} ({floor_rollout:g}) "
            f"| {c['wall_s'] - c['all_updated_s']:.2f} | {c['overhead_s']} "
            f"| {c['install_breakdown']['startup_s']} | {modules:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    results = json.loads(Path(sys.argv[1]).read_text())
    print(markdown(results))
    print()
    print(breakdown_markdown(results))
