"""docs/architecture.md stays true to the code: every plugin file is named in its layout, and every function the
path of sandboxed_containers_node_selector names exists where it says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def test_every_module_utils_file_and_module_is_in_the_layout():
    for path in sorted((ROOT / "plugins" / "module_utils").glob("_*.py")):
        assert path.name in DOC, f"docs/architecture.md does not name {path.name}"
    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        assert path.stem in DOC, f"docs/architecture.md does not name the module {path.stem}"


def test_the_node_selector_path_names_functions_that_exist():
    section = DOC.split("## One setting's path", 1)[1].split("\n## ", 1)[0]
    everything = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        everything |= defined(path)
    named = set(re.findall(r"`(?:[\w.]+\.)?(\w+)\(", section)) | set(re.findall(r"`\w+\.(\w+)`", section))
    named -= {"execute"} - everything
    assert named, "the section names no function"
    missing = sorted(n for n in named if n not in everything)
    assert missing == [], f"docs/architecture.md names functions that do not exist: {missing}"
    for rel in re.findall(r"`((?:plugins|roles|playbooks)/[\w/.]+)`", section):
        assert (ROOT / rel).exists(), rel
