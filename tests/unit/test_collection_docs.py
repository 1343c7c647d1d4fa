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
        "sandboxed_containers_report_operation", "sandboxed_containers_report_file"}}


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


def test_security_guide_shows_the_shipped_clusterrole():
    role = (ROOT / "roles" / "automation_access" / "files" / "clusterrole.yml").read_text()
    guide = (ROOT / "docs" / "security.md").read_text()
    assert f"```yaml\n{role}```" in guide
