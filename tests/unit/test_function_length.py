"""No function in plugins/ over 60 lines, unless one line of its docstring, starting "Not split:", says why
splitting it would hurt."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
LIMIT = 60


def long_functions() -> list[str]:
    found = []
    for path in sorted(PLUGINS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                doc = ast.get_docstring(node) or ""
                if length > LIMIT and not any(line.strip().startswith("Not split:") for line in doc.splitlines()):
                    found.append(f"{path.relative_to(PLUGINS)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_the_limit_without_a_reason():
    assert long_functions() == []
