"""The collection tarball holds what galaxy.yml means to ship, whatever else the checkout holds.

ansible-galaxy collection build packs every file of the directory except build_ignore: a checkout where `make test`,
`make ee` or `make docs` has run holds venvs, local clusters, the execution environment's build context and more,
git-ignored but not ignored by the build unless galaxy.yml says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# What a checkout collects: make test, make ee, make docs, make bench, make galaxy-import, editors and tools.
LEFTOVERS = [
    "build/ee/context/x",
    "build/sandboxed-containers-0.9.0.tar.gz",
    "sandboxed-containers-0.9.0.tar.gz",
    ".cluster-test/kubeconfig",
    ".cluster/pki/ca.key",
    ".venv/bin/python",
    ".venv-compat/bin/python",
    ".collections/ansible_collections/sandboxed/.keep",
    ".ansible/collections/x",
    ".cache/x",
    "docs/build/html/index.html",
    "__pycache__/x.pyc",
    "plugins/modules/__pycache__/x.cpython-312.pyc",
    "plugins/module_utils/stray.pyc",
    ".pytest_cache/v/cache/nodeids",
    "roles/install/.pytest_cache/v/cache/nodeids",
    ".ruff_cache/x",
    ".mypy_cache/x",
    ".tox/x",
    "bench/out/x.json",
    "tests/output/x",
    "importer_result.json",
    "dist/x",
    "sandboxed_containers.egg-info/PKG-INFO",
    ".idea/workspace.xml",
    ".vscode/settings.json",
    "roles/install/tasks/.main.yml.swp",
    "playbooks/install.yml~",
    ".env",
    ".coverage",
    "inventory/localhost.yml",  # the checkout's inventory (ansible.cfg), for runs from the checkout
]
# The top-level entries a tarball may hold (FILES.json and MANIFEST.json are ansible-galaxy's).
SHIPPED_TOP = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "requirements.txt", "requirements.yml",
               ".ansible-lint", "changelogs", "docs", "extensions", "meta", "playbooks", "plugins", "roles"}
REQUIRED = ["plugins/modules", "plugins/module_utils", "roles/install/tasks/main.yml", "playbooks/install.yml",
            "meta/runtime.yml", "README.md", "LICENSE", "docs/real-cluster.md", "docs/docsite/extra-docs.yml",
            "docs/docsite/rst/real-cluster.rst", "changelogs/changelog.yaml", "requirements.yml",
            "extensions/patterns/sandboxed_containers/README.md"]


def tracked_files() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        pytest.skip("not a git work tree (ansible-test units runs a copy of the tracked files)")
    return [f for f in proc.stdout.decode().split("\0") if f and (ROOT / f).is_file()]


def ansible_galaxy() -> str:
    path = Path(sys.executable).parent / "ansible-galaxy"
    if not path.exists():
        pytest.skip(f"no ansible-galaxy next to {sys.executable}")
    return str(path)


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> list[str]:
    galaxy = ansible_galaxy()
    tmp = tmp_path_factory.mktemp("packaging")
    src, out = tmp / "src", tmp / "out"
    for f in tracked_files():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    for f in LEFTOVERS:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        (src / f).write_text("leftover\n")
    # make collection's link, back to the checkout itself.
    (src / ".collections/ansible_collections/sandboxed/containers").symlink_to("../../..")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"} | {"ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([galaxy, "collection", "build", str(src), "--output-path", str(out)], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stderr, proc.stderr
    version = yaml.safe_load((src / "galaxy.yml").read_text())["version"]
    with tarfile.open(out / f"sandboxed-containers-{version}.tar.gz") as tar:
        return [m.name.removeprefix("./").rstrip("/") for m in tar.getmembers()]


@pytest.mark.parametrize("leftover", [*LEFTOVERS, ".collections"])
def test_the_tarball_holds_no_leftover(members, leftover):
    # The leftover itself, and the first directory of its path that the checkout does not ship.
    assert leftover not in members
    top = leftover.split("/")[0]
    if top not in SHIPPED_TOP:
        assert not [m for m in members if m == top or m.startswith(top + "/")]


def test_the_tarball_holds_only_what_galaxy_yml_ships(members):
    assert {m.split("/")[0] for m in members} <= SHIPPED_TOP
    dev = [m for m in members if m.split("/")[0] in SHIPPED_TOP and any(
        part in {"__pycache__", ".pytest_cache", "molecule"} or part.endswith((".pyc", ".swp", "~"))
        for part in m.split("/"))]
    assert dev == []


@pytest.mark.parametrize("path", REQUIRED)
def test_the_tarball_holds_the_content(members, path):
    assert path in members
