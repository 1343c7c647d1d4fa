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
export ANSIBLE_COLLECTIONS_PATH="$repo/.collections"
build=$repo/docs/build

(cd .collections/ansible_collections/sandboxed/containers && antsibull-docs lint-collection-docs --plugin-docs .)

rm -rf "$build"
mkdir -p "$build/rst"
chmod og-w "$build/rst"  # antsibull-docs wants its destination writable only by its owner
antsibull-docs --config-file tools/docsite/antsibull-docs.cfg collection --use-current --fail-on-error \
    --cleanup everything --dest-dir "$build/rst" sandboxed.containers >/dev/null
cp tools/docsite/index.rst "$build/rst/index.rst"
sphinx-build -q -b html -c tools/docsite -W --keep-going -d "$build/doctrees" "$build/rst" "$build/html"
echo "documentation site: $build/html/index.html"
