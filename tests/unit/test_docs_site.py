"""The documentation site carries the guides (tools/docsite/md2rst.py) and stands alone (check_links.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCSITE = ROOT / "tools" / "docsite"
LABEL = "ansible_collections.sandboxed.containers.docsite."


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"docsite_{name}", DOCSITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def md2rst():
    pytest.importorskip("markdown_it")
    return load("md2rst")


@pytest.fixture(scope="module")
def links():
    return load("check_links")


# ---- the guides in the site ---------------------------------------------------------------------------------------

def test_the_generated_guides_are_current(md2rst):
    """docs/docsite is what md2rst makes of docs/*.md now: run md2rst.py after editing a guide."""
    files = md2rst.generate()
    stale = [str(p) for p, text in files.items() if not (ROOT / p).is_file() or (ROOT / p).read_text() != text]
    assert stale == [], "run .venv/bin/python tools/docsite/md2rst.py"
    generated = {p.name for p in files if p.suffix == ".rst"}
    assert {p.name for p in (ROOT / "docs/docsite/rst").glob("*.rst")} == generated


def test_every_guide_is_in_the_site(md2rst):
    extra = yaml.safe_load((ROOT / "docs/docsite/extra-docs.yml").read_text())
    listed = [entry for section in extra["sections"] for entry in section["toctree"]]
    assert sorted(listed) == sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    index = (DOCSITE / "index.rst").read_text()
    for stem in listed:
        assert f":ref:`{LABEL}{stem.replace('-', '_')}`" in index


def test_the_site_links_to_no_repository():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    repository = galaxy["repository"].lower()
    assert "documentation" not in galaxy  # the guides ship in docs/ and in the site
    for f in [ROOT / "docs/docsite/links.yml", DOCSITE / "index.rst", DOCSITE / "antsibull-docs.cfg",
              *(ROOT / "docs/docsite/rst").glob("*.rst")]:
        assert repository not in f.read_text().lower(), f
    assert "edit_on_github" not in (yaml.safe_load((ROOT / "docs/docsite/links.yml").read_text()) or {})


def convert(md2rst, text: str, stem: str = "guide", anchors: dict | None = None) -> str:
    anchors = anchors or {stem: {md2rst.github_slug(md2rst.plain(n.children[0]))
                                 for n in md2rst.parse(text).children if n.type == "heading"}}
    return md2rst.Converter(stem, anchors).convert(md2rst.parse(text))


def test_links_between_guides_become_references_and_repository_files_their_path(md2rst):
    text = ("# Title\n\n## The wait, again\n\nSee [the wait](#the-wait-again), [other](other.md#a-b),"
            " [the role](../roles/install/README.md), [`pool_wait`](../plugins/modules/pool_wait.py),"
            " [`extensions/aap`](../extensions/aap/x.yml), [results](../bench/results.json) and"
            " [Kata](https://github.com/kata-containers/kata-containers).\n")
    rst = convert(md2rst, text, anchors={"guide": {"title", "the-wait-again"}, "other": {"a-b"}})
    assert f".. _{LABEL}guide:" in rst and f".. _{LABEL}guide.the-wait-again:" in rst
    assert f":ref:`the wait <{LABEL}guide.the-wait-again>`" in rst
    assert f":ref:`other <{LABEL}other.a-b>`" in rst
    assert ":ref:`the role <ansible_collections.sandboxed.containers.install_role>`" in rst
    assert ":ref:`pool\\_wait <ansible_collections.sandboxed.containers.pool_wait_module>`" not in rst
    assert ":ref:`pool_wait <ansible_collections.sandboxed.containers.pool_wait_module>`" in rst
    assert "``extensions/aap``" in rst and "results (``bench/results.json``)" in rst
    assert "`Kata <https://github.com/kata-containers/kata-containers>`__" in rst
    with pytest.raises(md2rst.ConversionError, match="names no heading"):
        convert(md2rst, "# T\n\n[x](other.md#missing)\n", anchors={"guide": {"t"}, "other": {"a-b"}})


def test_inline_markup_is_escaped_and_kept_apart(md2rst):
    rst = convert(md2rst, "# T\n\nA `kata`s **`node x is Degraded: <reason>`** — *em*phasis, a_b, *, |x|, `a``b`\n")
    assert "``kata``\\ s" in rst
    assert "``node x is Degraded: <reason>``" in rst
    assert "*em*\\ phasis" in rst
    assert "a\\_b, \\*, \\|x\\|" in rst
    assert ":code:`a\\`\\`b`" in rst


def test_tables_code_and_lists(md2rst):
    rst = convert(md2rst, "# T\n\n| a | b |\n|---|---|\n| `x` | |\n\n1. one\n\n   ```sh\n   ls\n   ```\n"
                          "2. two\n")
    assert ".. list-table::\n   :header-rows: 1\n\n   * - a\n     - b\n   * - ``x``\n     -" in rst
    assert "1. one\n\n   .. code-block:: shell\n\n      ls\n\n2. two" in rst


def test_github_anchors(md2rst):
    assert md2rst.github_slug("The CRI-O drop-in and the kata RPM's own") == "the-cri-o-drop-in-and-the-kata-rpms-own"
    assert md2rst.github_slug("Many clusters: the fleet playbook") == "many-clusters-the-fleet-playbook"


# ---- the link check -----------------------------------------------------------------------------------------------

GALAXY = {"repository": "https://github.com/sandboxed-containers/sandboxed.containers",
          "issues": "https://github.com/sandboxed-containers/sandboxed.containers/issues"}


def site(tmp_path: Path, body: str) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text("<html><body><a href='sub/page.html#x'>in</a></body></html>")
    (tmp_path / "sub/page.html").write_text(f"<html><head><link href='../_static/a.css'></head><body>{body}</body>")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static/a.css").write_text("")
    return tmp_path


@pytest.mark.parametrize("href", [
    "#top", "../index.html", "../index.html#a", "page.html", "../_static/a.css", "../",
    "https://docs.ansible.com/projects/ansible/devel/", "https://forum.ansible.com/",
    "https://docs.openshift.com/container-platform/latest/welcome/index.html", "https://kubernetes.io/docs/",
    "https://github.com/openshift/machine-config-operator", "https://github.com/kata-containers/kata-containers",
    "https://github.com/ansible-collections/kubernetes.core/issues/1",
])
def test_links_inside_the_site_or_upstream_pass(tmp_path, links, href):
    count, problems = links.check_site(site(tmp_path, f"<a href='{href}'>x</a>"), GALAXY)
    assert problems == []
    assert count == 3


@pytest.mark.parametrize(("href", "why"), [
    ("https://github.com/sandboxed-containers/sandboxed.containers/blob/main/docs/variables.md", "own repository"),
    ("https://github.com/sandboxed-containers/sandboxed.containers", "own repository"),
    ("https://GitHub.com/Sandboxed-Containers/sandboxed.containers/issues", "own repository"),
    ("https://github.com/someone/fork", "ALLOWED_GITHUB_OWNERS"),
    ("https://example.com/page", "ALLOWED_HOSTS"),
    ("http://evil.kubernetes.io.example.com/", "ALLOWED_HOSTS"),
    ("../../outside.html", "outside the site"),
    ("/", "absolute path"),
    ("missing.html", "does not exist"),
    ("mailto:someone@example.com", "mailto"),
])
def test_links_outside_the_site_fail(tmp_path, links, href, why):
    problems = links.check_site(site(tmp_path, f"<p><img src='{href}'></p>"), GALAXY)[1]
    assert len(problems) == 1
    assert why in problems[0] and problems[0].startswith("sub/page.html: ")


def test_the_link_check_fails_the_command(tmp_path, links, capsys):
    root = site(tmp_path, "<a href='https://github.com/sandboxed-containers/sandboxed.containers'>x</a>")
    galaxy = tmp_path / "galaxy.yml"
    galaxy.write_text(yaml.safe_dump(GALAXY))
    assert links.main([str(root), str(galaxy)]) == 1
    assert "own repository" in capsys.readouterr().err
    (root / "sub/page.html").write_text("<a href='../index.html'>x</a>")
    assert links.main([str(root), str(galaxy)]) == 0
