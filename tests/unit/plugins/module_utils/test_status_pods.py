"""The pods that use a runtime class: one function for the uninstall refusal, the rename refusal, status and the
runtime class module."""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._status import ACTIVE_PHASES, pod_ref, pods_using


def pod(name: str, runtime_class: str | None, phase: str | None = "Running", ns: str = "app") -> dict:
    out: dict = {"metadata": {"name": name, "namespace": ns}, "spec": {}}
    if runtime_class:
        out["spec"]["runtimeClassName"] = runtime_class
    if phase is not None:
        out["status"] = {"phase": phase}
    return out


PODS = [pod("b", "kata"), pod("a", "kata", "Succeeded"), pod("c", "runc"), pod("d", None), pod("e", "old", "Failed"),
        pod("f", "kata", None), pod("g", "old", "Unknown"), pod("h", "kata", "Pending", ns="other")]


def test_pods_using_one_runtime_class_in_any_phase_in_the_order_given():
    assert [p["metadata"]["name"] for p in pods_using(PODS, "kata")] == ["b", "a", "f", "h"]


def test_pods_using_several_runtime_classes():
    assert [p["metadata"]["name"] for p in pods_using(PODS, {"kata", "old"})] == ["b", "a", "e", "f", "g", "h"]
    assert [p["metadata"]["name"] for p in pods_using(PODS, ["old"])] == ["e", "g"]
    assert pods_using(PODS, set()) == []


def test_active_pods_may_still_run_and_a_pod_without_a_phase_is_pending():
    assert ACTIVE_PHASES == ("Pending", "Running", "Unknown")
    assert [p["metadata"]["name"] for p in pods_using(PODS, {"kata", "old"}, active=True)] == ["b", "f", "g", "h"]


def test_a_runtime_class_name_is_not_taken_for_its_letters():
    # A single name is one name, not a set of one-letter names.
    assert pods_using([pod("x", "k")], "kata") == []


def test_pod_ref_is_namespace_slash_name():
    assert pod_ref(pod("h", "kata", ns="other")) == "other/h"
