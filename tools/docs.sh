#!/usr/bin/env bash
# Builds the documentation site into docs/build/html (git-ignored) with antsibull-docs, as it recommends
# (antsibull-docs sphinx-init): first lint-collection-docs on the collection (plugin, role and extra docs,
# semantic markup), then the pages of every module and role, then Sphinx with warnings as errors.
# The collection is found through .collections (make collection); the guides stay in docs/*.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
venv=$(cd "${VENV:-.venv}" && pwd)
export PATH="$venv/bin:$PATH"
unset ANSIBLE_COLLECTIONS_PATH
build=$repo/docs/build

# lint-collection-docs copies the collection and its dependencies to check them, with git when a copy is inside
# a work tree, and takes each dependency from the first path in sorted order that has it: the venv's
# kubernetes.core (git-ignored here) would come out empty whenever the checkout's path sorts first. So it sees
# only a fresh copy of it (2 MB) in a temporary directory outside any work tree, and not the venv's
# (ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false).
purelib=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
deps=$(mktemp -d)
trap 'rm -rf "$deps"' EXIT
if git -C "$deps" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "docs: the temporary directory $deps is inside a git work tree; set TMPDIR to a directory outside one" >&2
    exit 1
fi
mkdir -p "$deps/ansible_collections/kubernetes"
cp -R "$purelib/ansible_collections/kubernetes/core" "$deps/ansible_collections/kubernetes/core"
(cd .collections/ansible_collections/sandboxed/containers &&
    ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_COLLECTIONS_PATH="$deps" antsibull-docs lint-collection-docs --plugin-docs .)

rm -rf "$build"
mkdir -p "$build/rst"
chmod og-w "$build/rst"  # antsibull-docs wants its destination writable only by its owner
ANSIBLE_COLLECTIONS_PATH="$repo/.collections" antsibull-docs --config-file tools/docsite/antsibull-docs.cfg \
    collection --use-current --fail-on-error --cleanup everything --dest-dir "$build/rst" sandboxed.containers >/dev/null
cp tools/docsite/index.rst "$build/rst/index.rst"
sphinx-build -q -b html -c tools/docsite -W --keep-going -d "$build/doctrees" "$build/rst" "$build/html"
echo "documentation site: $build/html/index.html"
