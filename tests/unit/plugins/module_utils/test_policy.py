from __future__ import annotations

import codecs
import json

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    CONTROLLERS,
    HANDLER_POLICY_NAME,
    POLICY_NAME,
    POLICY_OPTIONS,
    SETTINGS_ANNOTATION,
    PolicyError,
    cel_list,
    cel_string,
    check_names,
    objects,
    resolve,
)


def by_name(objs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def variables(vap: dict) -> dict[str, str]:
    return {v["name"]: v["expression"] for v in vap["spec"]["variables"]}


def test_no_mode_means_no_objects():
    assert objects({}, "kata") == []
    assert objects({"modes": []}, "kata") == []


def test_policies_and_bindings_for_combined_modes():
    objs = by_name(objects({"modes": ["namespaces", "users", "require"], "allowed_users": ["alice"],
                            "allowed_service_accounts": ["ci/deployer"], "allowed_groups": ["kata-users"],
                            "allowed_namespaces": ["sandbox"], "validation_actions": ["Warn", "Audit"]}, "kata"))
    assert sorted(objs) == [
        ("ValidatingAdmissionPolicy", POLICY_NAME), ("ValidatingAdmissionPolicy", HANDLER_POLICY_NAME),
        ("ValidatingAdmissionPolicyBinding", POLICY_NAME), ("ValidatingAdmissionPolicyBinding", HANDLER_POLICY_NAME)]
    vap, binding = objs[("ValidatingAdmissionPolicy", POLICY_NAME)], objs[
        ("ValidatingAdmissionPolicyBinding", POLICY_NAME)]
    assert binding["spec"]["policyName"] == POLICY_NAME
    assert binding["spec"]["validationActions"] == ["Warn", "Audit"]
    rules = vap["spec"]["matchConstraints"]["resourceRules"]
    assert {r for rule in rules for r in rule["resources"]} == {
        "pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
        "replicationcontrollers", "deploymentconfigs"}
    ns, users, require = vap["spec"]["validations"]
    assert '"sandboxed-containers.openshift.io/allowed"' in ns["expression"]
    assert '["sandbox"]' in ns["expression"]
    assert '"; ask a cluster administrator to label the namespace sandboxed-containers.openshift.io/allowed=true"' \
        in ns["messageExpression"]
    assert '"alice"' in users["expression"] and '"system:serviceaccount:ci:deployer"' in users["expression"]
    assert all(f'"{c}"' in users["expression"] for c in CONTROLLERS)
    assert '["kata-users"]' in users["expression"]
    assert "sandboxed-containers require rule" in require["messageExpression"]
    assert 'runtimeClassName == "kata"' in variables(vap)["usesRuntimeClass"]


def test_the_handler_policy_gates_every_other_runtime_class_with_the_handler():
    objs = by_name(objects({"modes": ["namespaces", "users"], "allowed_groups": ["g"]}, "kata", "kata-qemu"))
    vap = objs[("ValidatingAdmissionPolicy", HANDLER_POLICY_NAME)]
    assert vap["spec"]["paramKind"] == {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass"}
    uses = variables(vap)["usesRuntimeClass"]
    assert 'params.handler == "kata-qemu"' in uses
    assert 'params.metadata.name != "kata"' in uses  # the collection's own is gated by the other policy, by name
    assert "variables.podSpec.runtimeClassName == params.metadata.name" in uses
    ns, users = vap["spec"]["validations"]
    assert '" may not run pods with runtime class " + params.metadata.name + "; ask' in ns["messageExpression"]
    assert " + params.metadata.name + " in users["messageExpression"]
    binding = objs[("ValidatingAdmissionPolicyBinding", HANDLER_POLICY_NAME)]
    # Every RuntimeClass is a parameter; with none at all, nothing to gate.
    assert binding["spec"]["paramRef"] == {"selector": {}, "parameterNotFoundAction": "Allow"}
    assert "paramRef" not in objs[("ValidatingAdmissionPolicyBinding", POLICY_NAME)]["spec"]


def test_require_alone_needs_no_handler_policy():
    objs = by_name(objects({"modes": ["require"]}, "kata"))
    assert sorted(n for _k, n in objs) == [POLICY_NAME, POLICY_NAME]


def test_replication_controllers_and_deployment_configs_are_checked_and_their_controllers_trusted():
    assert "system:serviceaccount:kube-system:replication-controller" in CONTROLLERS
    assert "system:serviceaccount:openshift-infra:deploymentconfig-controller" in CONTROLLERS
    assert "system:serviceaccount:openshift-infra:replication-controller" not in CONTROLLERS
    vap = objects({"modes": ["users"], "allowed_users": ["alice"]}, "kata")[0]
    rules = {(g, r): rule["operations"] for rule in vap["spec"]["matchConstraints"]["resourceRules"]
             for g in rule["apiGroups"] for r in rule["resources"]}
    assert rules[("", "replicationcontrollers")] == ["CREATE", "UPDATE"]
    assert rules[("apps.openshift.io", "deploymentconfigs")] == ["CREATE", "UPDATE"]
    # A DeploymentConfig's pod template is spec.template.spec, like a ReplicationController's.
    assert variables(vap)["podSpec"].endswith(": object.spec.template.spec")
    # The deployer pod scales the ReplicationControllers it does not create: an unchanged template passes.
    assert "oldObject.spec.template == object.spec.template" in variables(vap)["templateUnchanged"]
    assert "variables.templateUnchanged" in vap["spec"]["validations"][0]["expression"]


def test_verify_pods_pass_only_by_identity_and_label_never_by_namespace_name():
    vap = objects(resolve({"modes": ["namespaces", "users"], "allowed_users": ["alice"]}, "automation"), "kata")[0]
    verify = variables(vap)["verifyPod"]
    assert verify == (
        "object.kind == 'Pod' && request.userInfo.username in [\"automation\"] && "
        "(has(namespaceObject.metadata.labels) && \"sandboxed.containers/verify\" in namespaceObject.metadata.labels "
        "&& namespaceObject.metadata.labels[\"sandboxed.containers/verify\"] == \"true\")")
    ns, users = vap["spec"]["validations"]
    assert "variables.verifyPod" in ns["expression"] and "variables.verifyPod" in users["expression"]
    assert "sandboxed-containers-verify" not in json.dumps(vap)
    # Explicit identities, or none at all.
    vap = objects(resolve({"modes": ["namespaces"], "verify_users": ["system:serviceaccount:a:b"]}, "x"), "kata")[0]
    assert '["system:serviceaccount:a:b"]' in variables(vap)["verifyPod"]
    vap = objects(resolve({"modes": ["namespaces"], "verify_users": []}, "automation"), "kata")[0]
    assert variables(vap)["verifyPod"] == "false"


def test_resolve_records_what_was_given_and_who_verifies():
    assert resolve({"modes": ["namespaces"], "allowed_users": None}, "automation") == {
        "modes": ["namespaces"], "verify_users": ["automation"]}
    assert resolve({"modes": ["namespaces"], "verify_users": ["ci"]}, "automation")["verify_users"] == ["ci"]
    assert resolve({"modes": []}, "automation") == {"modes": []}
    recorded = resolve({"modes": ["require"]}, "automation")
    vap = objects(recorded, "kata")[0]
    assert json.loads(vap["metadata"]["annotations"][SETTINGS_ANNOTATION]) == recorded
    # Defaults are not recorded: a policy rebuilt from the record gets this version's (new controllers to trust).
    assert "trusted_users" not in recorded


def test_the_policy_options_have_no_defaults_so_that_what_was_given_is_known():
    assert all("default" not in o for o in POLICY_OPTIONS.values())
    assert POLICY_OPTIONS["verify_users"] == {"type": "list", "elements": "str"}


@pytest.mark.parametrize(("value", "literal"), [
    ("kata", '"kata"'),
    ("o'brien", '"o\'brien"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("\U0001f512-admins", '"\\U0001f512-admins"'),  # outside the BMP: one escape, never a surrogate pair
    ("é\n\t\x7f", '"\\u00e9\\u000a\\u0009\\u007f"'),
])
def test_cel_string_literals(value, literal):
    assert cel_string(value) == literal
    assert cel_string(value).isascii()
    # CEL's escapes used here are Python's too: the literal reads back as the value.
    assert codecs.decode(literal[1:-1], "unicode_escape") == value


def test_cel_strings_never_have_surrogate_escapes():
    assert "\\ud83d" not in cel_list(["\U0001f512"]) and json.dumps("\U0001f512") == '"\\ud83d\\udd12"'
    with pytest.raises(PolicyError, match="not valid Unicode"):
        cel_string("\ud83d")


def test_odd_values_go_into_cel_only_as_literals():
    odd_user, odd_group = "o'brien\"\\x", "\U0001f512-admins"
    vap = objects({"modes": ["users"], "allowed_users": [odd_user], "allowed_groups": [odd_group]}, "kata")[0]
    users = vap["spec"]["validations"][0]["expression"]
    assert cel_string(odd_user) in users and '"\\U0001f512-admins"' in users
    assert odd_user not in users


@pytest.mark.parametrize(("runtime_class", "handler", "message"), [
    ('ka"ta', "kata", "sandboxed_containers_runtime_class_name 'ka\"ta' must be a DNS subdomain"),
    ("Kata", "kata", "must be a DNS subdomain"),
    ("kata'+object.metadata.name+'", "kata", "must be a DNS subdomain"),
    ("kata", "ka[ta]", "sandboxed_containers_handler 'ka[ta]' must be a DNS label"),
    ("kata", "kata.x", "must be a DNS label"),
])
def test_names_placed_in_the_policy_are_checked(runtime_class, handler, message):
    with pytest.raises(PolicyError) as e:
        check_names(runtime_class, handler)
    assert message in str(e.value)
    with pytest.raises(PolicyError):
        objects({"modes": ["namespaces"]}, runtime_class, handler)


def test_a_runtime_class_name_may_be_a_dns_subdomain():
    check_names("kata.sandboxed", "kata")


@pytest.mark.parametrize(("policy", "message"), [
    ({"modes": ["everyone"]}, "are not modes"),
    ({"modes": ["namespaces"], "validation_actions": ["Deny", "Warn"]}, "Deny and Warn do not combine"),
    ({"modes": ["namespaces"], "validation_actions": ["Block"]}, "validation_actions must be"),
    ({"modes": ["users"]}, "the users mode needs allowed_users"),
    ({"modes": ["users"], "allowed_service_accounts": ["deployer"]}, "must be namespace/name"),
    ({"modes": ["namespaces"], "allowed_namespace_label": "no-value"}, "must be key=value"),
    ({"modes": ["require"], "required_namespace_label": "bad key!=x"}, "label key 'bad key!'"),
    ({"mode": ["require"]}, "unknown keys ['mode']"),
    ({"modes": ["namespaces"], "allowed_namespaces": ["CI Sandbox"]}, "'CI Sandbox' is not a namespace name"),
    ({"modes": ["namespaces"], "verify_users": "automation"}, "verify_users must be a list of names"),
    ({"modes": ["users"], "allowed_groups": ["\ud83d"]}, "is not valid Unicode text"),
])
def test_bad_settings_are_refused_clearly(policy, message):
    with pytest.raises(PolicyError) as e:
        objects(policy, "kata")
    assert message in str(e.value)
