#!/usr/bin/env python
# Copyright: sandboxed.containers contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Checks that the built documentation site stands alone: tools/docsite/check_links.py SITE_DIR [galaxy.yml]

Every link (href, src) of every HTML page must point to a page or file inside the site, or to a public upstream
page on a host of ALLOWED_HOSTS (github.com only under the organisations of ALLOWED_GITHUB_OWNERS). Links to the
collection's own repository (galaxy.yml's repository, issues, documentation and homepage) fail, whatever the host:
the guides are part of the site. Prints every bad link with its page, and exits 1 if there is any.
"""

from __future__ import annotations

import posixpath
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

# Upstream projects the pages may link to (a host, or any of its subdomains).
ALLOWED_HOSTS = frozenset({
    "ansible.com",            # docs.ansible.com (the Ansible documentation), forum.ansible.com, the theme's header
    "docs.openshift.com",
    "docs.redhat.com",
    "access.redhat.com",
    "kubernetes.io",
    "katacontainers.io",
    "cri-o.io",
    "readthedocs.io",         # e.g. urllib3's documentation, linked from kubernetes.core's options
    "python.org",
    "sphinx-doc.org",
    "www.apache.org",
})
# Organisations of upstream projects on github.com (and their raw/gist hosts are not allowed).
ALLOWED_GITHUB_OWNERS = frozenset({
    "openshift", "kata-containers", "ansible", "ansible-collections", "ansible-community", "kubernetes",
    "kubernetes-client", "kubernetes-sigs", "cri-o", "coreos", "containers", "okd-project",
})
# The attributes that make a browser fetch or go somewhere.
LINK_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "data"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in LINK_ATTRIBUTES and value is not None:
                self.links.append(value.strip())
            elif name == "srcset" and value:
                self.links.extend(part.strip().split(" ")[0] for part in value.split(",") if part.strip())


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.links


def own_addresses(galaxy: dict) -> list[str]:
    """The collection's own addresses from galaxy.yml, without scheme, lower case, no trailing slash."""
    result = []
    for key in ("repository", "issues", "documentation", "homepage"):
        value = galaxy.get(key)
        if isinstance(value, str) and value:
            parts = urlsplit(value)
            result.append((parts.netloc + parts.path).lower().rstrip("/"))
    # The repository itself covers its issues, trees, blobs and edit pages.
    return sorted(set(result))


def _host_allowed(host: str) -> bool:
    return any(host == allowed or host.endswith("." + allowed) for allowed in ALLOWED_HOSTS)


def check_external(url: str, own: list[str]) -> str | None:
    """Why an absolute URL is not allowed, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    address = (host + parts.path).lower().rstrip("/")
    for prefix in own:
        if address == prefix or address.startswith(prefix + "/"):
            return "the collection's own repository address (the site must carry what it links to)"
    if parts.scheme not in ("http", "https"):
        return f"a {parts.scheme}: link"
    if host in ("github.com", "www.github.com"):
        owner = parts.path.strip("/").split("/")[0].lower()
        if owner in ALLOWED_GITHUB_OWNERS:
            return None
        return f"github.com/{owner} is not an upstream project of ALLOWED_GITHUB_OWNERS"
    if _host_allowed(host):
        return None
    return f"{host} is not an upstream host of ALLOWED_HOSTS"


def check_internal(site: Path, page: Path, link: str) -> str | None:
    """Why a relative link does not resolve to a file inside the site, or None."""
    parts = urlsplit(link)
    if not parts.path:
        return None  # #anchor, ?query on the same page
    base = posixpath.dirname(page.relative_to(site).as_posix())
    if parts.path.startswith("/"):
        return "an absolute path, outside the site wherever it is served"
    target = posixpath.normpath(posixpath.join(base, unquote(parts.path)))
    if target == ".." or target.startswith("../"):
        return "points outside the site"
    path = site / target
    if path.is_dir():
        path = path / "index.html"
    if not path.is_file():
        return f"{target} does not exist in the site"
    return None


def check_site(site: Path, galaxy: dict) -> tuple[int, list[str]]:
    """(number of links checked, problems) for every HTML page under site."""
    own = own_addresses(galaxy)
    problems = []
    count = 0
    for page in sorted(site.rglob("*.html")):
        for link in links_of(page.read_text(encoding="utf-8", errors="replace")):
            count += 1
            if not link or link.startswith("#"):
                continue
            parts = urlsplit(link)
            if parts.scheme in ("javascript", "data", "about"):
                problem = None if link in ("javascript:void(0)", "about:blank") else f"a {parts.scheme}: link"
            elif parts.scheme or link.startswith("//"):
                problem = check_external(link if parts.scheme else "https:" + link, own)
            else:
                problem = check_internal(site, page, link)
            if problem:
                problems.append(f"{page.relative_to(site)}: {link}: {problem}")
    return count, problems


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.split("\n\n", maxsplit=1)[0], file=sys.stderr)
        return 2
    site = Path(argv[0])
    galaxy_file = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2] / "galaxy.yml"
    galaxy = yaml.safe_load(galaxy_file.read_text(encoding="utf-8"))
    if not any(site.rglob("*.html")):
        print(f"error: no HTML page under {site}", file=sys.stderr)
        return 1
    count, problems = check_site(site, galaxy)
    if problems:
        print(f"error: {len(problems)} links of the site point outside it:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    pages = len(list(site.rglob("*.html")))
    print(f"site links: {count} links in {pages} pages, all inside the site or to allowed upstream pages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
