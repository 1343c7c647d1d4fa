from __future__ import annotations

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    CONTROLLERS,
    POLICY_NAME,
    PolicyError,
    objects,
)


def test_no_mode_means_no_objects():
    assert objects({}, "kata") == []
    assert objects({"modes": []}, "kata") == []


def test_policy_and_binding_for_combined_modes():
    vap, binding = objects({"modes": ["namespaces", "users", "require"], "allowed_users": ["alice"],
                            "allowed_service_accounts": ["ci/deployer"], "allowed_groups": ["kata-users"],
                            "allowed_namespaces": ["sandbox"], "validation_actions": ["Warn", "Audit"]}, "kata")
    assert vap["metadata"]["name"] == binding["spec"]["policyName"] == POLICY_NAME
    assert binding["spec"]["validationActions"] == ["Warn", "Audit"]
    rules = vap["spec"]["matchConstraints"]["resourceRules"]
    assert {r for rule in rules for r in rule["resources"]} == {
        "pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs"}
    ns, users, require = vap["spec"]["validations"]
    assert '"sandboxed-containers.openshift.io/allowed"' in ns["expression"]
    assert '["sandbox"]' in ns["expression"]
    assert "label the namespace sandboxed-containers.openshift.io/allowed=true" in ns["messageExpression"]
    assert '"alice"' in users["expression"] and '"system:serviceaccount:ci:deployer"' in users["expression"]
    assert all(f'"{c}"' in users["expression"] for c in CONTROLLERS)
    assert '["kata-users"]' in users["expression"]
    assert "sandboxed-containers require rule" in require["messageExpression"]
    assert 'runtimeClassName == "kata"' in vap["spec"]["variables"][1]["expression"]


@pytest.mark.parametrize(("policy", "message"), [
    ({"modes": ["everyone"]}, "are not modes"),
    ({"modes": ["namespaces"], "validation_actions": ["Deny", "Warn"]}, "Deny and Warn do not combine"),
    ({"modes": ["namespaces"], "validation_actions": ["Block"]}, "validation_actions must be"),
    ({"modes": ["users"]}, "the users mode needs allowed_users"),
    ({"modes": ["users"], "allowed_service_accounts": ["deployer"]}, "must be namespace/name"),
    ({"modes": ["namespaces"], "allowed_namespace_label": "no-value"}, "must be key=value"),
    ({"modes": ["require"], "required_namespace_label": "bad key!=x"}, "label key 'bad key!'"),
    ({"mode": ["require"]}, "unknown keys ['mode']"),
])
def test_bad_settings_are_refused_clearly(policy, message):
    with pytest.raises(PolicyError) as e:
        objects(policy, "kata")
    assert message in str(e.value)


def test_the_verify_namespace_is_let_through():
    vap, _binding = objects({"modes": ["namespaces", "users"], "allowed_users": ["alice"]}, "kata",
                            verify_namespace="sandboxed-containers-verify")
    ns, users = vap["spec"]["validations"]
    assert '["sandboxed-containers-verify"]' in ns["expression"]
    assert "object.kind == 'Pod' && namespaceObject.metadata.name in [\"sandboxed-containers-verify\"]" in users[
        "expression"]
    vap, _binding = objects({"modes": ["namespaces"]}, "kata")
    assert "in []" in vap["spec"]["validations"][0]["expression"]
