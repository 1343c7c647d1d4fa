"""Status against a rendered directory (issue 15): no drift after the install, a changed, missing or extra object
named with its fields and both values, the pipeline gate, a directory that cannot be compared refused; and
"installed at day 0" from the nodes' first boot config."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes.dynamic import DynamicClient

from sim import testing as st

OVERHEAD = {"cpu": "250m", "memory": "350Mi"}
MANAGED_BY = {"app.kubernetes.io/managed-by": "sandboxed.containers"}


def render(ansible, out: Path) -> None:
    """The directory from playbooks/render.yml with the install's settings (never from the cluster's objects), with
    a manifest of openshift-install's own beside it, which the drift check ignores."""
    r = ansible.run("render", report=False, extra_vars={"sandboxed_containers_overhead": OVERHEAD,
                                                        "sandboxed_containers_render_dir": str(out)})
    assert r.rc == 0, r
    (out / "cluster-config.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-config-v1", "namespace": "kube-system"},
         "data": {"install-config": "{}"}}))


def status(ansible, out: Path, **extra):
    return ansible.run("status", extra_vars={"sandboxed_containers_render_dir": str(out), **extra})


def test_status_names_the_drift_from_the_rendered_directory(cluster, ansible, fresh, tmp_path):
    api = fresh
    rcs = DynamicClient(api).resources.get(api_version="node.k8s.io/v1", kind="RuntimeClass")
    out = tmp_path / "openshift"
    render(ansible, out)
    r = ansible.run("install", extra_vars={"sandboxed_containers_overhead": OVERHEAD})
    assert r.rc == 0, r

    r = status(ansible, out)
    assert r.rc == 0, r
    assert f"No drift from {out}" in r.text
    assert r.report["drift"] == [] and r.report["drift_dir"] == str(out)

    rcs.patch(name="kata", body={"overhead": {"podFixed": {"memory": "500Mi"}}},
              content_type="application/merge-patch+json")
    r = status(ansible, out)
    assert r.rc == 0, r
    line = "RuntimeClass kata changed: overhead.podFixed.memory is 500Mi in the cluster, 350Mi rendered"
    assert line in r.text
    assert r.report["drift"] == [{"kind": "RuntimeClass", "name": "kata", "state": "changed", "fields": [
        {"path": "overhead.podFixed.memory", "rendered": "350Mi", "cluster": "500Mi"}]}]

    gate = status(ansible, out, sandboxed_containers_status_fail_on_drift=True)
    assert gate.rc != 0, gate
    assert f"the cluster drifted from {out}: {line}" in gate.text

    rcs.delete(name="kata")
    rcs.create(body={"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "handler": "kata",
                     "metadata": {"name": "kata-extra", "labels": MANAGED_BY}})
    r = status(ansible, out)
    assert r.rc == 0, r
    assert "RuntimeClass kata missing: rendered in" in r.text
    assert "RuntimeClass kata-extra extra: in the cluster with the collection" in r.text  # YAML quotes the '

    assert [(f["name"], f["state"]) for f in r.report["drift"]] == [("kata", "missing"), ("kata-extra", "extra")]


def test_status_refuses_a_directory_it_cannot_compare_with(cluster, ansible, tmp_path):
    missing = tmp_path / "nowhere"
    r = status(ansible, missing)
    assert r.rc != 0, r
    assert (f"sandboxed_containers_render_dir {missing} does not exist; run playbooks/render.yml" in r.text), r
    other = tmp_path / "openshift"
    other.mkdir()
    (other / "cluster-config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    r = status(ansible, other)
    assert r.rc != 0, r
    assert f"sandboxed_containers_render_dir {other} holds no object of the collection" in r.text, r


def test_status_says_installed_at_day_0_when_every_chosen_node_first_booted_with_it(cluster, ansible, fresh):
    api = fresh
    r = ansible.run("install")
    assert r.rc == 0, r
    r = ansible.run("status")
    assert r.rc == 0, r
    assert r.report["day0"]["installed_at_day0"] is False  # the workers first booted without it
    assert "Installed at day 0 (version" not in r.text
    # Nodes that join now boot the worker pool's rendered config, which carries the MachineConfig; with the
    # first workers gone, every chosen node was installed at its first boot.
    # (4.14-4.21 write no firstPivotConfig: the evidence is that they registered after the MachineConfig existed.)
    for name in ("worker-new-0", "worker-new-1"):
        st.add_node(api, name)
    for name in ("worker-0", "worker-1", "worker-2"):
        st.remove_node(api, name)
    r = ansible.run("install")  # labels the new nodes for the RuntimeClass
    assert r.rc == 0, r
    r = ansible.run("status")
    assert r.rc == 0, r
    day0 = r.report["day0"]
    assert day0["installed_at_day0"] is True and day0["nodes"] == ["worker-new-0", "worker-new-1"], day0
    assert day0["version"]
    assert f"Installed at day 0 (version {day0['version']})" in r.text
    nodes = {n["name"]: n for n in r.report["nodes"]}
    assert "after the MachineConfig was created" in nodes["worker-new-0"]["day0_reason"], nodes["worker-new-0"]
