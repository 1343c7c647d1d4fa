"""Changelog fragments describe behaviour users notice; new modules, plugins and roles are antsibull-changelog's.

The Ansible developer guide: a new module, plugin or role needs no fragment, antsibull-changelog lists it from the
collection itself at release time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FRAGMENTS = sorted((ROOT / "changelogs" / "fragments").glob("*.yml"))
PLUGIN_KINDS = r"(?:module|modules|role|roles|plugin|plugins|lookup|lookups|filter|filters|test|callback|inventory)"
# "new module", "new ``x`` lookup", "new foo filter"
NEW_PLUGIN = re.compile(rf"\bnew\s+(?:``[^`]+``\s+|[\w.]+\s+)?{PLUGIN_KINDS}\b", re.I)


def announces(text: str) -> bool:
    """A new module, plugin or role announced: "new module", "new ``x`` lookup", "x role and playbook - ..."."""
    return bool(NEW_PLUGIN.search(text) or re.search(r"\brole and playbook - ", text))


def entries(path: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text()) or {}
    return [(section, " ".join(entry.split())) for section, items in data.items() if isinstance(items, list)
            for entry in items]


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=lambda p: p.name)
def test_no_fragment_announces_a_new_module_plugin_or_role(fragment):
    announced = [f"{section}: {text}" for section, text in entries(fragment) if announces(text)]
    assert announced == []


def test_the_check_catches_announcements():
    for text in ["cluster_info - new module; the identity of the cluster",
                 "connection lookup - new ``sandboxed.containers.connection`` lookup; the playbooks use it",
                 "status_info module, status role and playbook - per-node status like the operator's",
                 "install role and playbook - the sandboxed-containers extension and a templated CRI-O drop-in",
                 "verify module, role and playbook - run a sandboxed pod on every chosen node"]:
        assert announces(text), text
    for text in ["admission_policy module - new ``handler`` option",
                 "settings role - ``runtime_type`` must be ``vm`` unless the new ``allow_non_vm`` is true",
                 "verify module - refuses an existing namespace",
                 "verify module and role - the image has no default any more",
                 "settings role - a ``runtime_type`` other than ``vm`` is refused before any change",
                 "install - a renamed runtime class leaves no old RuntimeClass behind"]:
        assert not announces(text), text
