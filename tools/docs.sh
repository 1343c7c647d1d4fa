#!/usr/bin/env bash
# Builds the documentation site into docs/build/html (git-ignored) with antsibull-docs, as it recommends
# (antsibull-docs sphinx-init), and checks that it stands alone:
#   1. the guides' RST (docs/docsite/rst, docs/docsite/extra-docs.yml) is what tools/docsite/md2rst.py makes of
#      docs/*.md as they are now;
#   2. lint-collection-docs on the collection (plugin, role and extra docs, semantic markup);
#   3. the pages of every module, role and guide, then Sphinx with warnings as errors;
#   4. tools/docsite/check_links.py: no link of the built site points outside it, except to allowed upstream pages,
#      and none to the collection's own repository address.
# antsibull-docs reads a copy of the collection made here (outside any work tree), whose galaxy.yml has no
# repository, issues, documentation or homepage: the site carries the guides and links to no repository.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
venv=$(cd "${VENV:-.venv}" && pwd)
export PATH="$venv/bin:$PATH"
unset ANSIBLE_COLLECTIONS_PATH
build=$repo/docs/build

python tools/docsite/md2rst.py --check

# lint-collection-docs copies the collection and its dependencies to check them, with git when a copy is inside
# a work tree, and takes each dependency from the first path in sorted order that has it. So it sees only a copy
# of the collection and a fresh copy of kubernetes.core (2 MB) in a temporary directory outside any work tree,
# and not the venv's (ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false).
purelib=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
deps=$(mktemp -d)
trap 'rm -rf "$deps"' EXIT
if git -C "$deps" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "docs: the temporary directory $deps is inside a git work tree; set TMPDIR to a directory outside one" >&2
    exit 1
fi
mkdir -p "$deps/ansible_collections/kubernetes" "$deps/ansible_collections/sandboxed/containers/docs"
cp -R "$purelib/ansible_collections/kubernetes/core" "$deps/ansible_collections/kubernetes/core"
collection=$deps/ansible_collections/sandboxed/containers
cp -R meta plugins roles playbooks changelogs README.md LICENSE "$collection/"
cp -R docs/docsite "$collection/docs/docsite"
python - "$collection/galaxy.yml" <<'PY'
import sys
import yaml
galaxy = yaml.safe_load(open("galaxy.yml", encoding="utf-8"))
for key in ("repository", "issues", "documentation", "homepage"):
    galaxy.pop(key, None)
with open(sys.argv[1], "w", encoding="utf-8") as f:
    yaml.safe_dump(galaxy, f, sort_keys=False)
PY
(cd "$collection" &&
    ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_COLLECTIONS_PATH="$deps" antsibull-docs lint-collection-docs --plugin-docs .)

rm -rf "$build"
mkdir -p "$build/rst"
chmod og-w "$build/rst"  # antsibull-docs wants its destination writable only by its owner
ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_COLLECTIONS_PATH="$deps" antsibull-docs \
    --config-file tools/docsite/antsibull-docs.cfg collection --use-current --fail-on-error --cleanup everything \
    --dest-dir "$build/rst" sandboxed.containers >/dev/null
cp tools/docsite/index.rst "$build/rst/index.rst"
sphinx-build -q -b html -c tools/docsite -W --keep-going -d "$build/doctrees" "$build/rst" "$build/html"
python tools/docsite/check_links.py "$build/html" galaxy.yml
echo "documentation site: $build/html/index.html"
