"""The admission policy as status reports it: recorded modes and actions, and whether it is in force."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sandboxed.containers.plugins.module_utils._names import MANAGED_BY
from ansible_collections.sandboxed.containers.plugins.module_utils._policy import (
    HANDLER_POLICY_NAME,
    POLICY_NAME,
    SETTINGS_ANNOTATION,
    objects,
)
from ansible_collections.sandboxed.containers.plugins.module_utils._status import (
    policy_record,
    policy_state,
    policy_summary,
)

VAP, VAPB = "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"
RECORD = {"modes": ["namespaces", "users"], "allowed_groups": ["kata-users"], "validation_actions": ["Deny", "Audit"],
          "verify_users": ["automation"]}


def installed(record: dict) -> dict:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects(record, "kata")}


def test_in_force_when_every_object_is_there_as_recorded():
    s = policy_summary(RECORD, installed(RECORD), [])
    assert (s["modes"], s["validation_actions"], s["in_force"], s["problems"]) == (
        ["namespaces", "users"], ["Deny", "Audit"], True, [])
    assert [(o["kind"], o["name"], o["present"]) for o in s["objects"]] == [
        (VAP, POLICY_NAME, True), (VAPB, POLICY_NAME, True), (VAP, HANDLER_POLICY_NAME, True),
        (VAPB, HANDLER_POLICY_NAME, True)]
    assert s["objects"][1]["validation_actions"] == ["Deny", "Audit"]


def test_a_missing_binding_is_not_in_force_and_named():
    objs = installed(RECORD)
    objs[(VAPB, POLICY_NAME)] = None
    s = policy_summary(RECORD, objs, [])
    assert s["in_force"] is False
    assert s["problems"] == [f"{VAPB} {POLICY_NAME} is missing"]


def test_everything_deleted_is_not_in_force():
    s = policy_summary(RECORD, {}, [])
    assert s["in_force"] is False and len(s["problems"]) == 4
    assert not any(o["present"] for o in s["objects"])


def test_a_weakened_binding_is_not_in_force():
    objs = installed(RECORD)
    objs[(VAPB, HANDLER_POLICY_NAME)]["spec"]["validationActions"] = ["Audit"]
    s = policy_summary(RECORD, objs, [])
    assert s["in_force"] is False
    assert s["problems"] == [f"{VAPB} {HANDLER_POLICY_NAME} has validationActions ['Audit'], recorded "
                             "['Deny', 'Audit']"]


def test_type_checking_warnings_mean_not_in_force():
    objs = installed(RECORD)
    objs[(VAP, POLICY_NAME)]["status"] = {"typeChecking": {"expressionWarnings": [
        {"fieldRef": "spec.validations[0].expression", "warning": "undefined field 'x'"}]}}
    s = policy_summary(RECORD, objs, [])
    assert s["in_force"] is False
    assert s["type_checking"] == [{"policy": POLICY_NAME, "field": "spec.validations[0].expression",
                                   "warning": "undefined field 'x'"}]


def test_no_policy_is_reported_as_none_not_as_a_problem():
    s = policy_summary(None, {(VAP, POLICY_NAME): None, (VAPB, POLICY_NAME): None}, [])
    assert (s["modes"], s["in_force"], s["problems"]) == ([], False, [])


def test_require_alone_needs_no_handler_policy_and_missing_namespaces_are_passed_on():
    record = {"modes": ["require"]}
    s = policy_summary(record, installed(record), ["ci-sandbox"])
    assert s["in_force"] is True and s["missing_namespaces"] == ["ci-sandbox"]


def test_an_invalid_record_is_a_problem():
    s = policy_summary({"modes": "not JSON"}, {}, [])
    assert s["in_force"] is False and "the recorded admission policy is not valid" in s["problems"][0]


def runtime_class(record: dict | None, managed: bool = True) -> dict:
    annotations = {SETTINGS_ANNOTATION: json.dumps(record)} if record is not None else {}
    return {"metadata": {"name": "kata", "labels": dict(MANAGED_BY) if managed else {}, "annotations": annotations}}


def test_policy_state_reads_the_record_on_the_runtime_class_even_when_the_policy_was_deleted():
    asked = []
    record, objs = policy_state(True, lambda kind, name: asked.append((kind, name)), runtime_class(RECORD))
    assert record == RECORD
    assert objs == dict.fromkeys(asked) and len(asked) == 4  # each policy and binding asked for, none there
    assert policy_summary(record, objs, [])["in_force"] is False


def test_policy_state_reads_the_policy_record_when_the_runtime_class_is_not_the_collections():
    objs = installed(RECORD)
    record, got = policy_state(True, lambda kind, name: objs.get((kind, name)), runtime_class({"modes": []}, False))
    assert record == policy_record(objs[(VAP, POLICY_NAME)]) and record["modes"] == RECORD["modes"]
    assert got == objs


def test_policy_state_asks_for_nothing_where_the_api_is_not_served():
    record, objs = policy_state(False, lambda kind, name: pytest.fail("asked"), runtime_class(RECORD))
    assert (record, objs) == (RECORD, {})
