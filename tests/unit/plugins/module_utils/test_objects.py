from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils._ignition import data_url, decode_data_url
from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    ROLE_LABEL,
    RPM_DROPIN_PATH,
    VERSION_ANNOTATION,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._rendered import rendered_carries, rendered_lacks
from ansible_collections.sandboxed.containers.plugins.module_utils._version import COLLECTION_VERSION
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def dropin() -> str:
    return DROPIN


def test_machine_config_carries_the_extension_and_the_dropin(dropin):
    mc = o.machine_config("kata-oc", dropin)
    assert mc["metadata"]["labels"][ROLE_LABEL] == "kata-oc"
    assert mc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "sandboxed.containers"
    assert mc["metadata"]["annotations"][VERSION_ANNOTATION] == COLLECTION_VERSION
    assert mc["spec"]["extensions"] == ["sandboxed-containers"]
    assert re.match(r"^3\.\d+\.\d+$", mc["spec"]["config"]["ignition"]["version"])
    (f,) = mc["spec"]["config"]["storage"]["files"]
    # After the kata RPM's own 50-kata, so CRI-O reads ours last and its table wins; the RPM's file is not masked.
    assert f["path"] == "/etc/crio/crio.conf.d/51-sandboxed-containers"
    assert sorted([f["path"], RPM_DROPIN_PATH]) == [RPM_DROPIN_PATH, f["path"]]
    assert f["mode"] == 0o644 == 420
    assert decode_data_url(f["contents"]["source"]) == dropin
    table = tomllib.loads(decode_data_url(f["contents"]["source"]))["crio"]["runtime"]["runtimes"]["kata"]
    assert table["runtime_type"] == "vm"


def test_data_urls_round_trip_both_encodings():
    text = 'a = "b c"\n# ünïcode\n'
    assert decode_data_url(data_url(text)) == text
    assert decode_data_url("data:,a%20%3D%20%22b%22%0A") == 'a = "b"\n'


def test_custom_pool_inherits_worker_and_selects_its_role_label():
    p = o.custom_pool("kata-oc", max_unavailable="25%")
    expr = p["spec"]["machineConfigSelector"]["matchExpressions"][0]
    assert expr == {"key": ROLE_LABEL, "operator": "In", "values": ["worker", "kata-oc"]}
    assert p["spec"]["nodeSelector"] == {"matchLabels": {"node-role.kubernetes.io/kata-oc": ""}}
    assert p["spec"]["maxUnavailable"] == "25%"
    assert "maxUnavailable" not in o.custom_pool("kata-oc")["spec"]


def test_runtime_class_schedules_onto_the_nodes_with_the_handler():
    rc = o.runtime_class("kata", "kata", {"cpu": "250m", "memory": "350Mi"},
                         tolerations=[{"key": "k", "operator": "Exists"}])
    assert rc["handler"] == "kata"
    assert rc["overhead"] == {"podFixed": {"cpu": "250m", "memory": "350Mi"}}
    # Not a node-role label: schedulable control-plane nodes carry the worker role without the handler.
    assert rc["scheduling"]["nodeSelector"] == {"sandboxed.containers/handler": "kata"}
    assert rc["scheduling"]["tolerations"] == [{"key": "k", "operator": "Exists"}]


def test_rendered_content_checks(dropin):
    ours = o.machine_config("worker", dropin)["spec"]
    rendered = {"extensions": ["usbguard", "sandboxed-containers"],
                "config": {"storage": {"files": [
                    {"path": "/etc/other", "contents": {"source": data_url("x")}},
                    *ours["config"]["storage"]["files"]]}}}
    assert rendered_carries(rendered, ours)
    assert not rendered_lacks(rendered, ours)
    changed = o.machine_config("worker", dropin.replace("/run/vc", "/run/vc2"))["spec"]
    assert not rendered_carries(rendered, changed)
    bare = {"extensions": ["usbguard"], "config": {"storage": {"files": []}}}
    assert rendered_lacks(bare, ours) and not rendered_carries(bare, ours)


def test_machine_config_takes_the_extension_name_of_the_os(dropin):
    assert o.machine_config("worker", dropin, extensions=["kata-containers"])["spec"]["extensions"] == [
        "kata-containers"]


def test_version_matches_galaxy_yml():
    assert yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"] == COLLECTION_VERSION
