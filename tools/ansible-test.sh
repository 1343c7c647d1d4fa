#!/usr/bin/env bash
# Runs ansible-test (sanity or units) on this checkout without containers:
#   tools/ansible-test.sh sanity [ansible-test options]
#   tools/ansible-test.sh units [ansible-test options]
# ansible-test needs the collection at ansible_collections/sandboxed/containers, outside any git work tree, so
# the tracked files (as they are in the work tree; new files need `git add`) are copied to a cache outside the
# repository (~/.cache/sandboxed-containers/ansible-test/<checkout>-<command>/). The dependency kubernetes.core
# is the one of the venv's ansible package. Each test runs in a virtual environment that ansible-test makes
# with its pinned requirements (--venv --requirements), kept in that cache.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
command=${1:?usage: tools/ansible-test.sh sanity|units [options]}
shift
venv=$(cd "${VENV:-.venv}" && pwd)
python=${PYTHON_VERSION:-3.12}
cache_root=${SANDBOXED_CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sandboxed-containers}
cache=$cache_root/ansible-test
# One tree per checkout and command, so that sanity and units can run at once.
tree=$cache/$(printf '%s' "$repo" | sha256sum | cut -c1-12)-$command/ansible_collections
dest=$tree/sandboxed/containers

# A fresh copy of the tracked files; the virtual environment ansible-test delegates to (--venv) is kept.
delegation=$dest/tests/output/.tmp/delegation
kept=$tree/.delegation
rm -rf "$kept"
if [ -d "$delegation" ]; then mv "$delegation" "$kept"; fi
tools/copy-tracked.sh "$dest"
if [ -d "$kept" ]; then mkdir -p "$(dirname "$delegation")" && mv "$kept" "$delegation"; fi
mkdir -p "$tree/kubernetes"
purelib=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn "$purelib/ansible_collections/kubernetes/core" "$tree/kubernetes/core"

# ansible-test's caches (its virtual environments, keyed by their requirements) live in a home of its own,
# shared by every checkout; pip keeps the usual download cache.
home=$cache/home
pip_cache=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}
pip_version=$("$venv/bin/python" -c '
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version="'"$python"'"))["pip"])')
mkdir -p "$home/.ansible/test/cache"
cp tools/get_pip.py "$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"

cd "$dest"
exec env HOME="$home" PIP_CACHE_DIR="$pip_cache" PATH="$venv/bin:$PATH" \
    "$venv/bin/ansible-test" "$command" --venv --python "$python" --requirements --color no "$@"
