"""Names written once (_names) and what is derived from them."""

from __future__ import annotations

from ansible_collections.sandboxed.containers.plugins.module_utils._names import (
    MANAGED_BY,
    MANAGED_BY_TEXT,
    ROLE_LABEL,
    node_role_label,
    role_of,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._objects import NOT_CREATED, is_managed
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import VIRT_LABELS


def test_the_managed_by_label_as_a_selector_and_in_messages():
    assert MANAGED_BY_TEXT == "app.kubernetes.io/managed-by=sandboxed.containers"
    assert MANAGED_BY_TEXT in NOT_CREATED
    assert is_managed({"metadata": {"labels": dict(MANAGED_BY)}})
    assert not is_managed({"metadata": {"labels": {"app.kubernetes.io/managed-by": "kata-deploy"}}})
    assert not is_managed(None) and not is_managed({"metadata": {}})


def test_role_of_a_machine_config():
    assert role_of({"metadata": {"labels": {ROLE_LABEL: "kata-oc"}}}) == "kata-oc"
    assert role_of(None) is role_of({}) is role_of({"metadata": {"labels": None}}) is None
    assert node_role_label("kata-oc") == "node-role.kubernetes.io/kata-oc"


def test_the_virtualization_labels_preflight_names_are_the_platform_ones_in_their_order():
    assert VIRT_LABELS == ("feature.node.kubernetes.io/cpu-cpuid.VMX", "feature.node.kubernetes.io/cpu-cpuid.SVM",
                           "feature.node.kubernetes.io/cpu-cpuid.SIE", "feature.node.kubernetes.io/runtime.kata")
