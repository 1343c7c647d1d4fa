"""Drift against a rendered directory (musthave), and "installed at day 0" from a node's first boot config."""

from __future__ import annotations

import copy
import json

import yaml

from ansible_collections.sandboxed.containers.plugins.module_utils._drift import (
    FIRST_PIVOT_CONFIG,
    carries,
    changed_fields,
    day0,
    day0_summary,
    findings,
    line,
    load,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._names import MANAGED_BY
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import machine_config, runtime_class
from ansible_collections.sandboxed.containers.plugins.module_utils._render import acm_policy

RC = runtime_class("kata", "kata", {"memory": "350Mi", "cpu": "250m"})
MC = machine_config("worker", "[crio.runtime.runtimes.kata]\n", extensions=["sandboxed-containers"])


def served(obj: dict) -> dict:
    """The object as the API server returns it: metadata and fields of its own added."""
    out = copy.deepcopy(obj)
    out["metadata"].update({"uid": "u1", "resourceVersion": "7", "creationTimestamp": "2027-01-01T00:00:00Z"})
    out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied"] = "{}"
    out["metadata"]["labels"]["extra"] = "x"
    if obj["kind"] == "MachineConfig":
        out["spec"].update({"fips": False, "kernelType": ""})
    return out


def test_load_yaml_json_policy_and_skips_others():
    installer = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-config-v1"}}
    foreign_mc = {"apiVersion": MC["apiVersion"], "kind": "MachineConfig", "metadata": {"name": "99-worker-ssh"}}
    texts = {
        "99_openshift-machineconfig_50-sandboxed-containers.yaml": yaml.safe_dump(MC),
        "99_sandboxed-containers_runtimeclass_kata.json": json.dumps(RC),
        "cluster-config.yaml": yaml.safe_dump_all([installer, foreign_mc, None, "text", [1]]),
    }
    objs, problems = load(texts)
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("MachineConfig", "50-sandboxed-containers"), ("RuntimeClass", "kata")]
    assert problems == []
    objs, problems = load({"p.yaml": yaml.safe_dump(acm_policy([MC, RC], "policies", "inform"))})
    assert objs == [MC, RC] and problems == []


def test_load_reports_unreadable_files():
    objs, problems = load({"bad.yaml": "a: [", "rc.yaml": yaml.safe_dump(RC)})
    assert objs == [RC]
    assert len(problems) == 1 and problems[0].startswith("bad.yaml is neither YAML nor JSON")


def test_same_objects_with_server_fields_have_no_drift():
    cluster = {("MachineConfig", MC["metadata"]["name"]): served(MC), ("RuntimeClass", "kata"): served(RC)}
    assert findings([MC, RC], cluster, [served(MC), served(RC)]) == []


def test_changed_field_path_and_values_and_line():
    have = served(RC)
    have["overhead"]["podFixed"]["memory"] = "500Mi"
    out = findings([RC], {("RuntimeClass", "kata"): have}, [have])
    assert out == [{"kind": "RuntimeClass", "name": "kata", "state": "changed", "fields": [
        {"path": "overhead.podFixed.memory", "rendered": "350Mi", "cluster": "500Mi"}]}]
    assert line(out[0]) == ("RuntimeClass kata changed: overhead.podFixed.memory is 500Mi in the cluster, "
                            "350Mi rendered")


def test_quantities_compared_by_value():
    rendered = runtime_class("kata", "kata", {"memory": "350Mi", "cpu": "0.25"})
    assert changed_fields(rendered, served(RC)) == []


def test_metadata_only_rendered_labels_and_annotations():
    have = served(RC)
    have["metadata"]["labels"].pop("app.kubernetes.io/managed-by")
    have["metadata"]["annotations"]["sandboxed.containers/version"] = "0.9.0"
    have["metadata"]["name"] = "other"  # identity is not a field
    paths = {f["path"]: f for f in changed_fields(RC, have)}
    assert set(paths) == {"metadata.labels.app.kubernetes.io/managed-by",
                          "metadata.annotations.sandboxed.containers/version"}
    assert paths["metadata.labels.app.kubernetes.io/managed-by"]["cluster"] is None


def test_lists_compared_whole_with_server_defaults_inside_items():
    have = served(MC)
    have["spec"]["extensions"] = ["sandboxed-containers", "usbguard"]
    assert changed_fields(MC, have) == [{"path": "spec.extensions", "rendered": ["sandboxed-containers"],
                                         "cluster": ["sandboxed-containers", "usbguard"]}]
    rules = {"spec": {"rules": [{"apiGroups": [""], "resources": ["pods"]}]}}
    defaulted = {"spec": {"rules": [{"apiGroups": [""], "resources": ["pods"], "scope": "*"}]}}
    assert changed_fields(rules, defaulted) == []
    assert changed_fields(defaulted, rules)[0]["path"] == "spec.rules"


def test_missing_field_and_missing_and_extra_objects():
    have = served(RC)
    del have["scheduling"]
    pool = {"apiVersion": MC["apiVersion"], "kind": "MachineConfigPool",
            "metadata": {"name": "kata-oc", "labels": dict(MANAGED_BY)}}
    foreign = {"kind": "RuntimeClass", "metadata": {"name": "kata-other", "labels": {}}}
    out = findings([MC, RC], {("RuntimeClass", "kata"): have}, [have, pool, foreign])
    assert [(f["kind"], f["name"], f["state"]) for f in out] == [
        ("MachineConfig", "50-sandboxed-containers", "missing"), ("RuntimeClass", "kata", "changed"),
        ("MachineConfigPool", "kata-oc", "extra")]
    assert out[1]["fields"][0]["path"] == "scheduling" and out[1]["fields"][0]["cluster"] is None
    assert line(out[0]) == ("MachineConfig 50-sandboxed-containers missing: rendered in the directory, not in the "
                            "cluster")
    assert line(out[2], "/tmp/r").startswith("MachineConfigPool kata-oc extra: in the cluster")
    assert "scheduling is absent in the cluster" in line(out[1])


def rendered_config(name: str, *sources: dict) -> dict:
    """A rendered config: its sources' specs merged (extensions appended, files by path), as the render
    controller writes it."""
    files, exts = {}, []
    for mc in sources:
        exts += mc["spec"].get("extensions") or []
        for f in ((mc["spec"].get("config") or {}).get("storage") or {}).get("files") or []:
            files[f["path"]] = f
    return {"kind": "MachineConfig", "metadata": {"name": name}, "spec": {
        "extensions": exts, "config": {"ignition": {"version": "3.4.0"}, "storage": {"files": list(files.values())}}}}


SSH = {"spec": {"config": {"storage": {"files": [{"path": "/etc/ssh/x"}]}}}}


def test_carries_needs_extension_and_dropin():
    assert carries(rendered_config("r1", SSH, MC), ["sandboxed-containers"])
    assert not carries(rendered_config("r0", SSH), ["sandboxed-containers"])
    no_ext = copy.deepcopy(MC)
    no_ext["spec"]["extensions"] = []
    assert not carries(rendered_config("r2", no_ext), ["sandboxed-containers"])
    raw = rendered_config("r3", MC)
    raw["spec"]["config"] = json.dumps(raw["spec"]["config"])
    assert carries(raw, ["sandboxed-containers"])


def node(name: str, first: str | None) -> dict:
    return {"metadata": {"name": name, "annotations": {FIRST_PIVOT_CONFIG: first} if first else {}}}


def test_day0_per_node_and_summary():
    configs = {"rendered-worker-a": rendered_config("rendered-worker-a", SSH, MC),
               "rendered-worker-0": rendered_config("rendered-worker-0", SSH), "rendered-worker-gone": None}
    yes = day0(node("w1", "rendered-worker-a"), configs)
    no = day0(node("w2", "rendered-worker-0"), configs)
    gone = day0(node("w3", "rendered-worker-gone"), configs)
    old = day0(node("w4", None), configs)
    assert (yes["installed_at_day0"], no["installed_at_day0"], gone["installed_at_day0"],
            old["installed_at_day0"]) == (True, False, None, None)
    assert "no longer exists" in gone["day0_reason"] and "4.22" in old["day0_reason"]
    entries = [dict(e, name=n) for n, e in (("w1", yes), ("w2", no), ("w3", gone))]
    assert day0_summary(entries[:1], "1.2.0") == {"installed_at_day0": True, "version": "1.2.0", "nodes": ["w1"],
                                                  "unknown": []}
    assert day0_summary(entries, "1.2.0")["installed_at_day0"] is False
    assert day0_summary([entries[0], entries[2]], None)["installed_at_day0"] is None
    assert day0_summary([], None)["installed_at_day0"] is None


def test_day0_without_first_pivot_config_compares_when_the_node_and_the_machine_config_were_created():
    # OpenShift 4.14-4.21: no firstPivotConfig; a node registers after its first boot, so one created after the
    # MachineConfig booted a config rendered with it.
    mc = {"metadata": {"name": "50-sandboxed-containers", "creationTimestamp": "2026-11-28T10:00:00Z"}}

    def created(name: str, at: str) -> dict:
        return {"metadata": {"name": name, "creationTimestamp": at, "annotations": {}}}

    later = day0(created("w1", "2026-11-28T10:20:00Z"), {}, machine_config=mc)
    earlier = day0(created("w2", "2026-11-28T09:59:59Z"), {}, machine_config=mc)
    assert later["installed_at_day0"] is True and "after the MachineConfig was created" in later["day0_reason"]
    assert earlier["installed_at_day0"] is False and "came in an update" in earlier["day0_reason"]
    assert day0(created("w3", "2026-11-28T10:20:00Z"), {}, machine_config=None)["installed_at_day0"] is None
    # firstPivotConfig, where the MCS writes it (4.22), wins over the times.
    pivot = {"metadata": {"name": "w4", "creationTimestamp": "2026-11-28T10:20:00Z",
                          "annotations": {FIRST_PIVOT_CONFIG: "rendered-worker-0"}}}
    configs = {"rendered-worker-0": rendered_config("rendered-worker-0", SSH)}
    assert day0(pivot, configs, machine_config=mc)["installed_at_day0"] is False
