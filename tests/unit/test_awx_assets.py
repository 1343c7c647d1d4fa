"""The AWX/AAP assets agree with each other and with the roles: the pattern (meta/pattern.json, its playbooks and
their argument specs), the same job templates as code for infra.aap_configuration, and docs/awx.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "extensions" / "patterns" / "sandboxed_containers"
AAP_CONFIG = ROOT / "extensions" / "aap" / "sandboxed_containers.yml"
OPS = ("install", "upgrade", "uninstall", "status")
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# How AWX decides that a file of a project is a playbook it can offer (awx/main/utils/ansible.py).
AWX_PLAYBOOK_LINE = re.compile(r"^\s*?-?\s*?(?:hosts|include|import_playbook):\s*?.*?$")


def pattern() -> dict:
    return json.loads((PATTERN / "meta" / "pattern.json").read_text())


def templates() -> dict[str, dict]:
    return {t["playbook"].removesuffix(".yml"): t for t in pattern()["aap_resources"]["controller_job_templates"]}


def play_spec(op: str) -> dict:
    meta = yaml.safe_load((PATTERN / "playbooks" / f"{op}.meta.yml").read_text())
    return meta["argument_specs"][op]["options"]


def role_options() -> dict[str, dict]:
    """Every option of every role's argument spec, by variable name."""
    options: dict[str, dict] = {}
    for f in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        options.update(yaml.safe_load(f.read_text())["argument_specs"]["main"]["options"])
    return options


def test_pattern_definition_follows_the_specification():
    p = pattern()
    for key in ("schema_version", "name", "title", "description", "short_description", "aap_resources"):
        assert p.get(key), key
    assert p["name"] == PATTERN.name and re.fullmatch(r"[a-z0-9_]{1,64}", p["name"])
    assert len(p["title"]) <= 64
    assert not p["short_description"].endswith(".")
    res = p["aap_resources"]
    assert res["controller_project"]["name"] and res["controller_project"]["description"]
    ee = res["controller_execution_environment"]
    assert "." not in ee["image_name"].split("/")[0], "a namespace/name in private automation hub, no registry host"
    jts = res["controller_job_templates"]
    assert sorted(templates()) == sorted(OPS)
    assert [t["name"] for t in jts if t.get("primary")] == ["Sandboxed containers: install"]
    assert (PATTERN / "README.md").is_file()
    for t in jts:
        assert (PATTERN / "playbooks" / t["playbook"]).is_file()
        assert t["execution_environment"] == ee["name"]
        assert set(t["labels"]) <= set(res["controller_labels"])
        assert t["ask_credential_on_launch"] and t["ask_inventory_on_launch"]
        for q in t["survey"]["spec"]:
            assert {"type", "question_name", "question_description", "variable", "required"} <= set(q), q
            assert q["type"] in SURVEY_TYPES
            assert re.fullmatch(r"[a-z0-9_]{1,64}", q["variable"])
            assert isinstance(q.get("default", ""), str), "the pattern schema wants text defaults"
            if q["type"] == "multiplechoice":
                assert q["default"] in q["choices"]
            if q["type"] == "integer":
                assert "default" not in q, "AWX wants a number, the pattern schema text: leave it out"


@pytest.mark.parametrize("op", OPS)
def test_wrapper_playbook_is_offered_by_awx_and_checks_the_survey_first(op):
    path = PATTERN / "playbooks" / f"{op}.yml"
    assert any(AWX_PLAYBOOK_LINE.match(line) for line in path.read_text().splitlines())
    check, run = yaml.safe_load(path.read_text())
    assert check["validate_argspec"] == op and op in yaml.safe_load(
        (PATTERN / "playbooks" / f"{op}.meta.yml").read_text())["argument_specs"]
    collection_play = yaml.safe_load((ROOT / "playbooks" / f"{op}.yml").read_text())[0]
    assert check["hosts"] == collection_play["hosts"]
    assert check["connection"] == "local" and check["gather_facts"] is False
    assert "tasks" not in check and "roles" not in check
    # The collection's own playbook, by a path inside the same collection (or checkout): galaxy-importer's lint
    # cannot resolve playbooks by collection name.
    assert (path.parent / run["ansible.builtin.import_playbook"]).resolve() == (ROOT / "playbooks" / f"{op}.yml")
    assert run["name"] == collection_play["name"]
    # The argument spec next to it is not offered as a playbook.
    meta = (PATTERN / "playbooks" / f"{op}.meta.yml").read_text()
    assert not any(AWX_PLAYBOOK_LINE.match(line) for line in meta.splitlines())


@pytest.mark.parametrize("op", OPS)
def test_survey_questions_match_the_play_and_role_argument_specs(op):
    spec, roles = play_spec(op), role_options()
    questions = {q["variable"]: q for q in templates()[op]["survey"]["spec"]}
    assert set(questions) == set(spec), "every survey answer is checked by the play, and nothing else"
    for name, opt in spec.items():
        role = roles[name]
        assert opt["type"] == role["type"], name
        assert opt.get("choices") == role.get("choices"), name
        assert opt.get("default") == role.get("default"), name
        q = questions[name]
        if opt["type"] == "bool":
            assert q["type"] == "multiplechoice" and sorted(q["choices"]) == ["false", "true"], name
            assert q["default"] == str(opt["default"]).lower(), name
        elif opt.get("choices"):
            assert q["type"] == "multiplechoice" and q["choices"] == opt["choices"] and q["default"] == opt["default"]
        elif opt["type"] == "dict":
            assert q["type"] == "textarea" and json.loads(q["default"]) == opt["default"], name
        elif opt["type"] == "int":
            assert q["type"] == "integer" and q["min"] >= 0, name
        else:
            assert q["type"] == "text", name
            assert q.get("default", None) == opt.get("default"), name


def test_job_templates_as_code_are_the_patterns():
    data = yaml.safe_load(AAP_CONFIG.read_text())
    res = pattern()["aap_resources"]
    as_code = {t["name"]: t for t in data["controller_templates"]}
    assert sorted(as_code) == sorted(t["name"] for t in res["controller_job_templates"])
    credentials = {c["name"]: c for c in data["controller_credentials"]}
    for t in res["controller_job_templates"]:
        c = as_code[t["name"]]
        assert c["survey_enabled"] is True and c["survey_spec"] == t["survey"]
        assert c["playbook"] == f"extensions/patterns/{PATTERN.name}/playbooks/{t['playbook']}"
        assert (ROOT / c["playbook"]).is_file()
        assert c["project"] == res["controller_project"]["name"]
        assert c["execution_environment"] == res["controller_execution_environment"]["name"]
        assert c["inventory"] in {i["name"] for i in data["controller_inventories"]}
        (cred,) = c["credentials"]
        assert credentials[cred]["credential_type"] == "OpenShift or Kubernetes API Bearer Token"
        assert set(credentials[cred]["inputs"]) == {"host", "bearer_token", "verify_ssl", "ssl_ca_cert"}
    (ee,) = data["controller_execution_environments"]
    assert re.fullmatch(r"\{\{ \w+ \}\}", ee["image"]), "the image is the user's: a variable, no registry host"


def test_every_variable_of_the_job_templates_as_code_is_documented():
    used = set(re.findall(r"\{\{ (sandboxed_containers_aap_\w+)", AAP_CONFIG.read_text()))
    documented = set(re.findall(r"\bsandboxed_containers_aap_\w+", (ROOT / "docs" / "awx.md").read_text()))
    assert used and used <= documented
