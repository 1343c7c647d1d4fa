"""Every public variable is documented, every role has an argument spec that covers its defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VAR = re.compile(r"\bsandboxed_containers_[a-z0-9_]+\b")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())


def tasks_of(items: list) -> list[dict]:
    """Every task of a task list or playbook, blocks and plays opened."""
    out = []
    for item in items or []:
        out.append(item)
        for key in ("block", "rescue", "always", "tasks"):
            out += tasks_of(item.get(key) or [])
    return out


def set_by(paths: list[Path]) -> set[str]:
    """The public names the tasks in `paths` register or set as facts, for the tasks and roles after them."""
    names = set()
    for path in paths:
        for task in tasks_of(yaml.safe_load(path.read_text())):
            if task.get("register"):
                names.add(task["register"])
            facts = task.get("ansible.builtin.set_fact")
            if isinstance(facts, dict):
                names |= set(facts)
    return {n for n in names if not n.startswith("_")}


def role_outputs(role: str) -> set[str]:
    return set_by(sorted((ROOT / "roles" / role / "tasks").glob("*.yml")))


def computed_variables() -> set[str]:
    """Variables a role computes in its vars/main.yml (from the settings), not settings themselves."""
    names = set()
    for path in (ROOT / "roles").glob("*/vars/main.yml"):
        names |= set(yaml.safe_load(path.read_text()) or {})
    return names


def used_variables() -> set[str]:
    names = set()
    for base in ("roles", "playbooks"):
        for f in (ROOT / base).rglob("*.yml"):
            names |= set(VAR.findall(f.read_text()))
    # What the roles and playbooks set for the tasks after them, and what they compute, are not settings.
    outputs = set().union(*(role_outputs(r) for r in ROLES), set_by(sorted((ROOT / "playbooks").glob("*.yml"))))
    return names - outputs - computed_variables()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_documents_what_it_sets(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    description = " ".join(spec["argument_specs"]["main"]["description"])
    for name in role_outputs(role):
        assert f"C({name})" in description, f"{role}: sets {name} without saying so in its argument spec"


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
    settings = {**yaml.safe_load((ROOT / "roles" / "settings" / "defaults" / "main.yml").read_text()),
                **yaml.safe_load((ROOT / "roles" / "settings" / "vars" / "main.yml").read_text())}
    values = {**settings, **yaml.safe_load((role / "vars" / "main.yml").read_text()),
              "_sandboxed_containers_earlier_runtime_classes": [], **names}
    return env.from_string((role / "templates" / "clusterrole.yml.j2").read_text()).render(**values)


def test_security_guide_shows_the_shipped_clusterrole():
    guide = (ROOT / "docs" / "security.md").read_text()
    assert f"```yaml\n{rendered_clusterrole().rstrip()}\n```" in guide


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


def test_the_roles_name_the_machine_config_as_the_modules_do():
    from ansible_collections.sandboxed.containers.plugins.module_utils._names import MACHINE_CONFIG_NAME

    settings = yaml.safe_load((ROOT / "roles" / "settings" / "vars" / "main.yml").read_text())
    assert settings["_sandboxed_containers_machine_config_name"] == MACHINE_CONFIG_NAME
