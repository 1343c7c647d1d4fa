"""The render: the install's objects as manifests, their file names, and what is written into a directory (pure)."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.sandboxed.containers.plugins.module_utils import _objects as o
from ansible_collections.sandboxed.containers.plugins.module_utils import _policy
from ansible_collections.sandboxed.containers.plugins.module_utils._preflight import Settings
from ansible_collections.sandboxed.containers.plugins.module_utils._render import (
    ACM_FILE,
    RenderError,
    RenderSettings,
    files,
    is_own_file,
    objects,
    plan_files,
)
from ansible_collections.sandboxed.containers.tests.unit.plugins.module_utils.mco_objects import DROPIN

SELECTOR = {"matchLabels": {"example.com/kata": "true"}}
POLICY = {"modes": ["namespaces"], "allowed_namespaces": ["tenant-a"], "verify_users": ["admin"]}


def rs(**kw) -> RenderSettings:
    s = Settings(crio_dropin=DROPIN, **{k: kw.pop(k) for k in list(kw) if k in Settings.__dataclass_fields__})
    return RenderSettings(settings=s, **kw)


def test_the_worker_path_is_the_machineconfig_and_the_runtimeclass_the_modules_build():
    objs, warnings = objects(rs())
    assert warnings == []
    assert objs == [o.machine_config("worker", DROPIN), o.runtime_class("kata", "kata", {"cpu": "250m",
                                                                                         "memory": "350Mi"})]
    names = files(rs())[0]
    assert sorted(names) == ["99_openshift-machineconfig_50-sandboxed-containers.yaml",
                             "99_sandboxed-containers_runtimeclass_kata.yaml"]
    assert [yaml.safe_load(t) for t in names.values()] == objs


def test_the_overhead_is_written_as_the_runtime_class_module_writes_it():
    # The module passes validate_overhead's result (values as strings, stripped) to the builder.
    objs = objects(rs(overhead={"cpu": 1, "memory": " 350Mi "}))[0]
    assert objs[-1]["overhead"]["podFixed"] == {"cpu": "1", "memory": "350Mi"}


def test_master_role_for_a_compact_cluster_and_the_fedora_coreos_extension_name():
    objs = objects(rs(role="master", os="fcos"))[0]
    assert objs[0]["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == "master"
    assert objs[0]["spec"]["extensions"] == ["kata-containers"]


def test_a_selector_is_refused_for_day_0_and_rendered_with_a_warning_for_gitops():
    with pytest.raises(RenderError, match=r"would reboot once more.*gitops.*Nothing was written"):
        objects(rs(node_selector=SELECTOR))
    objs, warnings = objects(rs(node_selector=SELECTOR, target="gitops", max_unavailable="25%"))
    assert [x["kind"] for x in objs] == ["MachineConfig", "MachineConfigPool", "RuntimeClass"]
    assert objs[0]["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == "kata-oc"
    assert objs[1] == o.custom_pool("kata-oc", max_unavailable="25%")
    assert "not checked against nodes" in warnings[0]
    assert "99_openshift-machineconfigpool_kata-oc.yaml" in files(rs(node_selector=SELECTOR, target="gitops"))[0]


def test_the_policy_objects_and_the_settings_recorded_on_the_runtime_class():
    objs, warnings = objects(rs(policy=POLICY))
    assert warnings == []
    resolved = _policy.resolve(POLICY, None)
    assert objs[1:-1] == _policy.objects(resolved, "kata", "kata")
    assert json.loads(objs[-1]["metadata"]["annotations"][_policy.SETTINGS_ANNOTATION]) == resolved
    warnings = objects(rs(policy={"modes": ["namespaces"], "allowed_namespaces": ["a"]}))[1]
    assert "verify_users is not set" in warnings[0]
    objs = objects(rs(policy={"modes": []}))[0]
    assert [x["kind"] for x in objs] == ["MachineConfig", "RuntimeClass"]
    assert _policy.SETTINGS_ANNOTATION not in objs[-1]["metadata"]["annotations"]


@pytest.mark.parametrize(("kw", "message"), [
    ({"overhead": {"cpu": "lots"}}, "sandboxed_containers_overhead"),
    ({"pool_name": "worker", "node_selector": SELECTOR, "target": "gitops"}, "pool of the MCO"),
    ({"policy": {"modes": ["everyone"]}}, "modes"),
    ({"crio_runtime_type": None, "target": "nowhere"}, "render_target"),
])
def test_bad_settings_are_refused_before_anything_is_written(kw, message):
    kw.pop("crio_runtime_type", None)
    with pytest.raises(RenderError, match=message):
        files(rs(**kw))


def test_the_acm_policy_wraps_the_same_objects_as_musthave_templates():
    out = files(rs(target="acm-policy", acm_remediation="enforce", policy=POLICY))[0]
    assert list(out) == [ACM_FILE]
    policy = yaml.safe_load(out[ACM_FILE])
    assert policy["kind"] == "Policy" and policy["spec"]["remediationAction"] == "enforce"
    templates = policy["spec"]["policy-templates"][0]["objectDefinition"]["spec"]["object-templates"]
    assert [t["objectDefinition"] for t in templates] == objects(rs(policy=POLICY))[0]
    assert {t["complianceType"] for t in templates} == {"musthave"}


def test_an_empty_or_new_directory_gets_every_file_and_a_second_render_writes_nothing():
    desired = files(rs())[0]
    plan = plan_files({}, desired, False, "d")
    assert plan.write == desired and plan.remove == []
    again = plan_files(dict(desired), desired, False, "d")
    assert again.write == {} and again.remove == [] and sorted(again.unchanged) == sorted(desired)


def test_other_files_are_refused_without_overwrite_and_never_touched_with_it():
    desired = files(rs())[0]
    installer = {"99_openshift-cluster-api_worker-machineset-0.yaml": "kind: MachineSet\n",
                 "cluster-scheduler-02-config.yml": "kind: Scheduler\n"}
    with pytest.raises(RenderError, match=r"holds other files.*99_openshift-cluster-api_worker-machineset-0.yaml.*"
                                          r"render_overwrite: true"):
        plan_files(installer, desired, False, "openshift")
    plan = plan_files(installer, desired, True, "openshift")
    assert plan.write == desired and plan.remove == []


def test_overwrite_removes_the_collections_stale_files_and_refuses_to_replace_anothers():
    gitops = files(rs(node_selector=SELECTOR, target="gitops"))[0]
    worker = files(rs())[0]
    plan = plan_files(gitops, worker, True, "repo")
    assert plan.remove == ["99_openshift-machineconfigpool_kata-oc.yaml"]
    assert list(plan.write) == ["99_openshift-machineconfig_50-sandboxed-containers.yaml"]  # role worker now
    theirs = {"99_sandboxed-containers_runtimeclass_kata.yaml": "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\n"
              "metadata: {name: kata}\nhandler: kata\n"}
    with pytest.raises(RenderError, match=r"not the collection's.*never overwrites"):
        plan_files(theirs, worker, True, "repo")


def test_a_file_is_the_collections_only_by_name_and_label():
    text = yaml.safe_dump(o.runtime_class("kata", "kata", {"cpu": "1"}))
    assert is_own_file("99_sandboxed-containers_runtimeclass_kata.yaml", text)
    assert not is_own_file("runtimeclass.yaml", text)
    assert not is_own_file("99_sandboxed-containers_x.yaml", "kind: RuntimeClass\nmetadata: {name: kata}\n")
    assert not is_own_file("99_sandboxed-containers_x.yaml", ": not yaml: [")
    assert not is_own_file("99_sandboxed-containers_x.yaml", None)
