"""One place creates API clients, for the modules and the actions alike: Cluster (plugins/module_utils/_k8s.py),
through connect(), the only caller of kubernetes.core's get_api_client. Nothing else in plugins/ imports the
kubernetes library or builds a client, so every request goes through Cluster's error handling."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def calls(name: str) -> list[tuple[str, str]]:
    """(file, enclosing function or class) of every call of `name`."""
    found = []
    for path in sorted(PLUGINS.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for scope in ast.walk(tree):
            if not isinstance(scope, (ast.FunctionDef, ast.ClassDef)):
                continue
            for node in ast.iter_child_nodes(scope) if isinstance(scope, ast.ClassDef) else [scope]:
                for call in ast.walk(node):
                    called = getattr(call.func, "id", getattr(call.func, "attr", None)) if isinstance(call, ast.Call) \
                        else None
                    if called == name:
                        found.append((str(path.relative_to(PLUGINS)), getattr(node, "name", scope.name)))
    return sorted(set(found))


def test_only_connect_calls_get_api_client_and_only_cluster_calls_connect():
    assert calls("get_api_client") == [("module_utils/_k8s.py", "connect")]
    assert calls("connect") == [("module_utils/_k8s.py", "__init__")]


def test_nothing_else_imports_the_kubernetes_library():
    importers = set()
    for path in sorted(PLUGINS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "kubernetes" or n.startswith("kubernetes.") or n.endswith("module_utils.k8s.client")
                   for n in names):
                importers.add(str(path.relative_to(PLUGINS)))
    assert importers == {"module_utils/_k8s.py"}


def test_every_module_with_a_cluster_body_runs_on_the_controller():
    """Each module that talks to the API has an action plugin of its name that runs its body (no module process)."""
    modules = {p.stem for p in (PLUGINS / "modules").glob("*.py")}
    actions = {p.stem for p in (PLUGINS / "action").glob("*.py")}
    # render reads no cluster: it writes files where the play runs, as a module process, and never imports _k8s.
    assert "_k8s" not in (PLUGINS / "modules" / "render.py").read_text()
    assert modules - {"render"} == actions
