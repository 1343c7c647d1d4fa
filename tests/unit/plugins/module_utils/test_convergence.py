from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils._convergence import (
    CONVERGED,
    FAILED,
    PROGRESSING,
    RENDERED,
    assess,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import data_url
from ansible_collections.sandboxed.containers.plugins.module_utils._names import CRIO_DROPIN_PATH, MACHINE_CONFIG_NAME
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN, node, pool

MC = MACHINE_CONFIG_NAME
OURS = o.machine_config("worker", DROPIN)["spec"]
RENDERED_WITH = {"extensions": ["sandboxed-containers"], "config": OURS["config"]}
RENDERED_WITHOUT = {"extensions": [], "config": {"storage": {"files": []}}}
NEW, OLD = "rendered-worker-new", "rendered-worker-old"


def workers(config: str = NEW, **kw):
    return [node(f"worker-{i}", "worker", current=config, **kw) for i in range(3)]


def converged_pool(**kw):
    args = {"target": NEW, "sources": ("00-worker", MC), "counts": (3, 3, 3, 0)} | kw
    return pool("worker", **args)


def test_converged_when_everything_agrees():
    a = assess(converged_pool(), workers(), machine_config=MC, mc_spec=OURS, rendered_spec=RENDERED_WITH)
    assert a.state == CONVERGED, a.waiting_for
    assert a.progress == f"worker: 3/3 updated, converged on {NEW}"


def test_stale_updated_window_is_not_convergence():
    # Right after our MachineConfig is created: the pool still targets the old
    # rendered config, which does not list it, and says Updated=True.
    p = pool("worker", target=OLD, sources=("00-worker",), counts=(3, 3, 3, 0))
    a = assess(p, workers(OLD), machine_config=MC, mc_spec=OURS, rendered_spec=RENDERED_WITHOUT)
    assert a.state == PROGRESSING
    assert a.progress == f"worker: waiting for the MCO to render {MC}"


def test_stale_content_after_a_change_of_our_machine_config():
    # Upgrade: the pool lists our MachineConfig but targets a render of its old content.
    a = assess(converged_pool(), workers(), machine_config=MC, mc_spec=OURS,
               rendered_spec={"extensions": ["sandboxed-containers"], "config": {"storage": {"files": [
                   {"path": CRIO_DROPIN_PATH, "contents": {"source": data_url("old")}}]}}})
    assert a.state == PROGRESSING
    assert "current content" in a.waiting_for[0]


def test_new_target_not_yet_observed():
    p = converged_pool(observed=1, status_config=OLD)
    a = assess(p, workers(OLD), machine_config=MC, mc_spec=OURS, rendered_spec=RENDERED_WITH)
    assert a.state == PROGRESSING
    assert any("observe generation 2" in w for w in a.waiting_for)


def test_rollout_in_progress_reports_working_nodes():
    nodes = workers(NEW)
    nodes[1] = node("worker-1", "worker", current=OLD, desired=NEW, state="Working")
    nodes[2] = node("worker-2", "worker", current=OLD)
    p = converged_pool(counts=(3, 1, 1, 0), status_config=OLD,
                       conds={"Updated": "False", "Updating": "True", "Degraded": "False"})
    a = assess(p, nodes, machine_config=MC, mc_spec=OURS, rendered_spec=RENDERED_WITH)
    assert a.state == PROGRESSING
    assert a.progress == "worker: 1/3 updated; worker-1 Working"


def test_counts_lagging_behind_a_label_change_is_not_convergence():
    # A node was just labelled into the pool; the pool status still counts 2.
    a = assess(converged_pool(counts=(2, 2, 2, 0)), workers(), machine_config=MC, mc_spec=OURS,
               rendered_spec=RENDERED_WITH)
    assert a.state == PROGRESSING
    assert any("count 3 machines" in w for w in a.waiting_for)


def test_a_degraded_node_fails_naming_node_and_reason():
    nodes = workers(NEW)
    nodes[2] = node("worker-2", "worker", current=OLD, desired=NEW, state="Degraded", reason="boom: disk full")
    p = converged_pool(counts=(3, 2, 2, 1), conds={
        "Updated": "False", "Updating": "True", "Degraded": ("True", "", "Node worker-2 is reporting: boom"),
        "NodeDegraded": ("True", "1 nodes are reporting degraded status on sync",
                         'Node worker-2 is reporting: "boom"')})
    a = assess(p, nodes, machine_config=MC, mc_spec=OURS, rendered_spec=RENDERED_WITH)
    assert a.state == FAILED
    assert a.failures == ["node worker-2 is Degraded: boom: disk full"]


def test_render_degraded_fails_with_the_mco_message():
    msg = "Failed to render configuration for pool worker: could not generate rendered MachineConfig: " \
          "invalid extensions found: [foo]"
    p = pool("worker", target=OLD, sources=("00-worker",), counts=(3, 3, 3, 0), conds={
        "Updated": "True", "Updating": "False", "RenderDegraded": ("True", "", msg), "Degraded": ("True", "", "")})
    a = assess(p, workers(OLD), machine_config=MC, mc_spec=OURS, rendered_spec=RENDERED_WITHOUT)
    assert a.state == FAILED
    assert a.failures == [f"pool worker cannot render its configuration (RenderDegraded): {msg}"]


def test_paused_pool_fails_with_a_hint():
    a = assess(converged_pool(paused=True), workers(OLD), machine_config=MC)
    assert a.state == FAILED
    assert "paused" in a.failures[0] and "unpause" in a.failures[0]


def test_rendered_phase_needs_no_nodes():
    p = pool("kata-oc", target="rendered-kata-oc-1", sources=("00-worker", MC), counts=(0, 0, 0, 0))
    a = assess(p, [], machine_config=MC, mc_spec=OURS, rendered_spec=RENDERED_WITH, phase=RENDERED)
    assert a.state == CONVERGED


def test_removal_waits_until_the_rendered_config_lacks_our_content():
    p = converged_pool(sources=("00-worker",))
    assert assess(p, workers(), machine_config=MC, mc_spec=OURS, present=False,
                  rendered_spec=RENDERED_WITH).state == PROGRESSING
    assert assess(p, workers(), machine_config=MC, mc_spec=OURS, present=False,
                  rendered_spec=RENDERED_WITHOUT).state == CONVERGED


def test_empty_pool_is_converged_when_status_caught_up():
    p = pool("worker", target="rendered-worker-1", sources=("00-worker",), counts=(0, 0, 0, 0))
    assert assess(p, []).state == CONVERGED
