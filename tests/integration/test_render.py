"""The render (issue 15): the install's objects as manifests, equal field by field to what the install applies, applied
cleanly by server-side apply, and wrapped in an ACM Policy the Policy CRD accepts."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from sim import testing as st
from support import new_namespace

SELECTOR = {"matchLabels": {"example.com/kata": "true"}}
POLICY = {"modes": ["namespaces", "users", "require"], "allowed_namespaces": ["tenant-a"],
          "allowed_users": ["alice"], "required_namespace_label": "example.com/untrusted=true",
          "verify_users": ["admin"]}
POLICY_KINDS = ("ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy")


def rendered(directory: Path) -> list[dict]:
    out = []
    for f in sorted(directory.iterdir()):
        out += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return out


def shaped(live: object, like: object) -> object:
    """`live` cut to the fields `like` has (dicts key by key, lists of the same length item by item): what the cluster
    holds of each rendered field, so that fields the API server defaults (uid, a rule's scope) or the MCO adds
    (spec.configuration of a pool) are left out."""
    if isinstance(like, dict) and isinstance(live, dict):
        return {k: shaped(live[k], v) for k, v in like.items() if k in live}
    if isinstance(like, list) and isinstance(live, list) and len(like) == len(live):
        return [shaped(a, b) for a, b in zip(live, like, strict=True)]
    return live


def live_object(dyn: DynamicClient, obj: dict) -> dict | None:
    res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    try:
        return res.get(name=obj["metadata"]["name"]).to_dict()
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def assert_equal_to_the_cluster(dyn: DynamicClient, objs: list[dict]) -> None:
    for obj in objs:
        live = live_object(dyn, obj)
        what = f"{obj['kind']} {obj['metadata']['name']}"
        assert live is not None, f"{what} is rendered but the install did not create it"
        assert shaped(live, obj) == obj, what
        # Labels and annotations exactly: one the install writes and the render misses would show here.
        for key in ("labels", "annotations"):
            assert (live["metadata"].get(key) or {}) == obj["metadata"].get(key, {}), f"{what} {key}"


def remove_policy(dyn: DynamicClient) -> None:
    for kind in POLICY_KINDS:
        res = dyn.resources.get(api_version="admissionregistration.k8s.io/v1", kind=kind)
        for item in res.get(label_selector="app.kubernetes.io/managed-by=sandboxed.containers").items:
            with contextlib.suppress(ApiException):
                res.delete(name=item.metadata.name)


@pytest.mark.parametrize("case", ["worker path with every policy mode", "selector"])
def test_the_rendered_objects_equal_what_the_install_applies(cluster, ansible, fresh, tmp_path, case):
    api = fresh
    dyn = DynamicClient(api)
    settings: dict = {"sandboxed_containers_overhead": {"cpu": "300m", "memory": "400Mi"},
                      "sandboxed_containers_tolerations": [{"key": "example.com/sandbox", "operator": "Exists",
                                                            "effect": "NoSchedule"}]}
    if case == "selector":
        st.label_node(api, "worker-1", {"example.com/kata": "true"})
        settings |= {"sandboxed_containers_node_selector": SELECTOR, "sandboxed_containers_max_unavailable": 2}
        target = "gitops"
    else:
        settings |= {"sandboxed_containers_policy": POLICY}
        target = "openshift-install"
    out = tmp_path / "rendered"
    r = ansible.run("render", extra_vars={**settings, "sandboxed_containers_render_dir": str(out),
                                          "sandboxed_containers_render_target": target}, report=False)
    assert r.rc == 0, r
    objs = rendered(out)
    kinds = sorted(o["kind"] for o in objs)
    if case == "selector":
        assert kinds == ["MachineConfig", "MachineConfigPool", "RuntimeClass"]
    else:
        assert kinds == ["MachineConfig", "RuntimeClass", *sorted(POLICY_KINDS * 2)]
    try:
        r = ansible.run("install", extra_vars=settings)
        assert r.rc == 0, r
        assert_equal_to_the_cluster(dyn, objs)
    finally:
        remove_policy(dyn)


def test_the_rendered_directory_applies_cleanly_with_server_side_apply(cluster, ansible, fresh, tmp_path):
    api = fresh
    dyn = DynamicClient(api)
    out = tmp_path / "gitops"
    r = ansible.run("render", report=False, extra_vars={
        "sandboxed_containers_render_dir": str(out), "sandboxed_containers_render_target": "gitops",
        "sandboxed_containers_node_selector": SELECTOR, "sandboxed_containers_policy": POLICY})
    assert r.rc == 0, r
    assert "was not checked against nodes" in r.text  # a selector rendered without a cluster says so
    objs = rendered(out)
    assert len(objs) == 7
    for obj in objs:
        res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        # As Argo CD's server-side apply sends it; Strict: an unknown or duplicate field is an error, not dropped.
        dyn.server_side_apply(res, body=obj, name=obj["metadata"]["name"], field_manager="argocd-controller",
                              dry_run="All", force_conflicts=True, query_params=[("fieldValidation", "Strict")])
    # A dry run: nothing exists.
    assert all(live_object(dyn, obj) is None for obj in objs)


def test_an_acm_policy_of_the_same_objects_is_accepted_by_the_policy_crds(cluster, ansible, fresh, tmp_path):
    from localcluster.bootstrap import install_acm_crds

    api = fresh
    install_acm_crds(api)
    dyn = DynamicClient(api)
    ns = new_namespace(api)
    out = tmp_path / "acm"
    r = ansible.run("render", report=False, extra_vars={
        "sandboxed_containers_render_dir": str(out), "sandboxed_containers_render_target": "acm-policy",
        "sandboxed_containers_render_acm_namespace": ns, "sandboxed_containers_render_acm_remediation": "enforce",
        "sandboxed_containers_policy": POLICY})
    assert r.rc == 0, r
    [policy] = rendered(out)
    res = dyn.resources.get(api_version="policy.open-cluster-management.io/v1", kind="Policy")
    dyn.create(res, body=policy, namespace=ns, query_params=[("dryRun", "All"), ("fieldValidation", "Strict")])
    # The template is validated by its own CRD (the Policy's schema keeps objectDefinition as it is).
    template = policy["spec"]["policy-templates"][0]["objectDefinition"]
    cfg = dyn.resources.get(api_version="policy.open-cluster-management.io/v1", kind="ConfigurationPolicy")
    dyn.create(cfg, body=template, namespace=ns, query_params=[("dryRun", "All"), ("fieldValidation", "Strict")])
    inner = [t["objectDefinition"] for t in template["spec"]["object-templates"]]
    r = ansible.run("render", report=False, extra_vars={
        "sandboxed_containers_render_dir": str(tmp_path / "plain"), "sandboxed_containers_policy": POLICY})
    assert r.rc == 0, r

    def key(o: dict) -> tuple[str, str]:
        return o["kind"], o["metadata"]["name"]

    assert sorted(inner, key=key) == sorted(rendered(tmp_path / "plain"), key=key)
    # The CRD does refuse what it does not accept: a remediation ACM does not know.
    bad = {**policy, "spec": {**policy["spec"], "remediationAction": "sometimes"}}
    with pytest.raises(ApiException) as e:
        dyn.create(res, body=bad, namespace=ns, query_params=[("dryRun", "All")])
    assert e.value.status == 422


def test_a_directory_with_other_files_is_refused_unless_overwrite_and_their_files_are_never_touched(
        cluster, ansible, tmp_path):
    out = tmp_path / "openshift"
    out.mkdir()
    machineset = out / "99_openshift-cluster-api_worker-machineset-0.yaml"
    machineset.write_text("kind: MachineSet\n")
    r = ansible.run("render", report=False, extra_vars={"sandboxed_containers_render_dir": str(out)})
    assert r.rc != 0, r
    assert "holds other files (99_openshift-cluster-api_worker-machineset-0.yaml)" in r.text
    assert "sandboxed_containers_render_overwrite: true" in r.text
    assert sorted(p.name for p in out.iterdir()) == [machineset.name]
    r = ansible.run("render", report=False, diff=True, extra_vars={"sandboxed_containers_render_dir": str(out),
                                                                   "sandboxed_containers_render_overwrite": True})
    assert r.rc == 0 and r.changed == 1, r
    assert "+apiVersion: machineconfiguration.openshift.io/v1" in r.output  # --diff shows each file
    assert machineset.read_text() == "kind: MachineSet\n"
    names = sorted(p.name for p in out.iterdir())
    assert names == [machineset.name, "99_openshift-machineconfig_50-sandboxed-containers.yaml",
                     "99_sandboxed-containers_runtimeclass_kata.yaml"]
    again = ansible.run("render", report=False, check=True, extra_vars={
        "sandboxed_containers_render_dir": str(out), "sandboxed_containers_render_overwrite": True,
        "sandboxed_containers_overhead": {"cpu": "1", "memory": "1Gi"}})
    assert again.rc == 0 and again.changed == 1, again
    assert "Written: 99_sandboxed-containers_runtimeclass_kata.yaml" in again.text
    assert "350Mi" in (out / "99_sandboxed-containers_runtimeclass_kata.yaml").read_text()  # check mode wrote nothing
    same = ansible.run("render", report=False, extra_vars={"sandboxed_containers_render_dir": str(out),
                                                           "sandboxed_containers_render_overwrite": True})
    assert same.rc == 0 and same.changed == 0, same
