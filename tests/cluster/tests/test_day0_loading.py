"""CLUSTER_MANIFESTS_DIR: the knob and the loading of its files (no cluster)."""

from __future__ import annotations

import json

import pytest

from localcluster import ClusterError, Settings
from localcluster import manifests as lm

MC = {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig",
      "metadata": {"name": "50-sandboxed-containers", "labels": {"machineconfiguration.openshift.io/role": "worker"}},
      "spec": {"extensions": ["sandboxed-containers"]}}
RC = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata"}, "handler": "kata"}


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ClusterError) as e:
        Settings.from_env({"CLUSTER_MANIFESTS_DIR": str(tmp_path / "nope")})
    assert str(e.value) == f"CLUSTER_MANIFESTS_DIR={tmp_path / 'nope'}: no such directory"


def test_files_load_in_name_order_with_every_document(tmp_path):
    (tmp_path / "20-rc.json").write_text(json.dumps(RC))
    (tmp_path / "10-mc.yml").write_text("---\n" + json.dumps(MC) + "\n---\n" + json.dumps({**RC, "metadata": {
        "name": "kata-2"}}) + "\n")
    (tmp_path / "README.md").write_text("not a manifest")
    s = Settings.from_env({"CLUSTER_MANIFESTS_DIR": str(tmp_path)})
    assert s.manifests_dir == str(tmp_path.resolve())
    assert Settings.from_state(s.to_state()).manifests_dir == s.manifests_dir  # kept in state.json
    got = lm.load(tmp_path)
    assert [(p.name, o["metadata"]["name"]) for p, o in got] == [
        ("10-mc.yml", "50-sandboxed-containers"), ("10-mc.yml", "kata-2"), ("20-rc.json", "kata")]


@pytest.mark.parametrize(("name", "text", "why"), [
    ("a.yaml", "kind: [unclosed\n", "cannot be parsed"),
    ("b.json", "{not json", "cannot be parsed"),
    ("c.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {}\n", "the object lacks metadata.name"),
    ("d.yaml", "kind: Namespace\nmetadata: {name: x}\n", "the object lacks apiVersion"),
    ("e.yaml", "- a list\n", "not a Kubernetes object"),
])
def test_bad_files_name_the_file(tmp_path, name, text, why):
    (tmp_path / name).write_text(text)
    with pytest.raises(ClusterError) as e:
        Settings.from_env({"CLUSTER_MANIFESTS_DIR": str(tmp_path)})
    assert str(e.value).startswith(f"{tmp_path.resolve() / name}: {why}")
