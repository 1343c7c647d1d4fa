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
# a work tree: the venv's kubernetes.core (git-ignored here) would come out empty. It gets a copy of it that is
# outside the checkout, made once per version in the cache.
purelib=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
k8s_core=$purelib/ansible_collections/kubernetes/core
k8s_version=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' \
    "$k8s_core/MANIFEST.json")
deps=${SANDBOXED_CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sandboxed-containers}/docs/kubernetes.core-$k8s_version
if [ ! -f "$deps/ansible_collections/kubernetes/core/MANIFEST.json" ]; then
    rm -rf "$deps"
    mkdir -p "$deps/ansible_collections/kubernetes"
    cp -R "$k8s_core" "$deps/ansible_collections/kubernetes/core.tmp"
    mv "$deps/ansible_collections/kubernetes/core.tmp" "$deps/ansible_collections/kubernetes/core"
fi
(cd .collections/ansible_collections/sandboxed/containers &&
    ANSIBLE_COLLECTIONS_PATH="$deps" antsibull-docs lint-collection-docs --plugin-docs .)

rm -rf "$build"
mkdir -p "$build/rst"
chmod og-w "$build/rst"  # antsibull-docs wants its destination writable only by its owner
ANSIBLE_COLLECTIONS_PATH="$repo/.collections" antsibull-docs --config-file tools/docsite/antsibull-docs.cfg \
    collection --use-current --fail-on-error --cleanup everything --dest-dir "$build/rst" sandboxed.containers >/dev/null
cp tools/docsite/index.rst "$build/rst/index.rst"
sphinx-build -q -b html -c tools/docsite -W --keep-going -d "$build/doctrees" "$build/rst" "$build/html"
echo "documentation site: $build/html/index.html"
