"""Every public variable is documented, every role has an argument spec that covers its defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VAR = re.compile(r"\bsandboxed_containers_[a-z0-9_]+\b")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())


def used_variables() -> set[str]:
    names = set()
    for base in ("roles", "playbooks"):
        for f in (ROOT / base).rglob("*.yml"):
            names |= set(VAR.findall(f.read_text()))
    # Facts the roles register for each other are not settings.
    return {n for n in names if n not in {
        "sandboxed_containers_preflight", "sandboxed_containers_status", "sandboxed_containers_verify",
        "sandboxed_containers_report", "sandboxed_containers_crio_dropin_content",
        "sandboxed_containers_report_operation", "sandboxed_containers_report_file",
        "sandboxed_containers_cluster", "sandboxed_containers_fleet_cluster"}}


def test_every_public_variable_is_documented():
    documented = set(VAR.findall((ROOT / "docs" / "variables.md").read_text()))
    assert used_variables() - documented == set()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_an_argument_spec_covering_its_defaults(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    for name, opt in options.items():
        assert opt.get("description"), f"{role}: {name} has no description"
        assert opt.get("type"), f"{role}: {name} has no type"
    defaults_file = ROOT / "roles" / role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    assert set(defaults or {}) <= set(options), f"{role}: defaults without a spec"
    for name, value in (defaults or {}).items():
        if "default" in options[name]:
            assert options[name]["default"] == value, f"{role}: {name} default differs from the spec"


def rendered_clusterrole(**names: object) -> str:
    """The automation's ClusterRole as the automation_access role renders it (Ansible's to_json is json.dumps)."""
    import json

    import jinja2

    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    role = ROOT / "roles" / "automation_access"
    settings = yaml.safe_load((ROOT / "roles" / "settings" / "defaults" / "main.yml").read_text())
    values = {**settings, **yaml.safe_load((role / "vars" / "main.yml").read_text()),
              "_sandboxed_containers_earlier_runtime_classes": [], **names}
    return env.from_string((role / "templates" / "clusterrole.yml.j2").read_text()).render(**values)


def test_security_guide_shows_the_shipped_clusterrole():
    guide = (ROOT / "docs" / "security.md").read_text()
    assert f"```yaml\n{rendered_clusterrole()}```" in guide


def test_the_clusterrole_scopes_every_write_by_name_and_no_name_adds_a_rule():
    role = yaml.safe_load(rendered_clusterrole(_sandboxed_containers_earlier_runtime_classes=["old"]))
    for rule in role["rules"]:
        if set(rule["verbs"]) & {"create", "update", "patch", "delete", "deletecollection"} and \
                rule["resources"] != ["nodes"]:
            assert rule.get("resourceNames"), rule
    assert {"resources": ["runtimeclasses"], "resourceNames": ["old"], "verbs": ["delete"]}.items() <= \
        next(r for r in role["rules"] if r.get("resourceNames") == ["old"]).items()
    hostile = 'kata"]\n  - apiGroups: ["*"]\n    resources: ["*"]\n    verbs: ["*"]\n#'
    role = yaml.safe_load(rendered_clusterrole(sandboxed_containers_runtime_class_name=hostile))
    assert not [r for r in role["rules"] if "*" in r["verbs"]]
    assert [hostile] in [r.get("resourceNames") for r in role["rules"]]
