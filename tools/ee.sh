#!/usr/bin/env bash
# Checks the execution environment definition (execution-environment.yml) without building an image:
# builds the collection from the tracked files into build/ee/sandboxed-containers.tar.gz, makes the build
# context build/ee/context with ansible-builder create and checks it, then checks with ansible-builder
# introspect what the collections' metadata asks for (meta/execution-environment.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(cd "${VENV:-.venv}" && pwd)
export PATH="$venv/bin:$PATH"
out=build/ee
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "error: $*" >&2; exit 1; }

tools/copy-tracked.sh "$work/src"
mkdir -p "$out"
ansible-galaxy collection build "$work/src" --output-path "$work" >/dev/null
mv "$work"/sandboxed-containers-*.tar.gz "$out/sandboxed-containers.tar.gz"

rm -rf "$out/context"
ansible-builder create -f execution-environment.yml -c "$out/context" --output-filename Containerfile >/dev/null
ctx=$out/context
[ -f "$ctx/Containerfile" ] || fail "no Containerfile in $ctx"
base=$(sed -n 's/^ARG EE_BASE_IMAGE="\(.*\)"$/\1/p' "$ctx/Containerfile")
[ -n "$base" ] || fail "the Containerfile has no EE_BASE_IMAGE build argument"
case ${base%%/*} in *.*|*:*|localhost) fail "the default base image $base names a registry host";; esac
grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$ctx/Containerfile" || fail "no collection install"
grep -qx -- '- name: /build/collections/sandboxed-containers.tar.gz' "$ctx/_build/requirements.yml" \
    || fail "_build/requirements.yml does not install the collection tarball"
cmp -s "$out/sandboxed-containers.tar.gz" "$ctx/_build/collections/sandboxed-containers.tar.gz" \
    || fail "the context lacks the collection tarball"
echo "build context $ctx: Containerfile (base image: build argument EE_BASE_IMAGE, default $base), _build/ with:"
(cd "$ctx" && find _build -type f | sort | sed 's/^/  /')

# What ansible-builder introspect finds in the collections' metadata: this collection and kubernetes.core.
intro=$work/introspect
ANSIBLE_COLLECTIONS_PATH="$intro" ansible-galaxy collection install --no-deps --force -p "$intro" "$out/sandboxed-containers.tar.gz" >/dev/null
purelib=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -s "$purelib/ansible_collections/kubernetes" "$intro/ansible_collections/kubernetes"
ansible-builder introspect --sanitize "$intro" >"$work/introspect.txt"
sed -n '/^---$/,$p' "$work/introspect.txt"
while read -r requirement; do
    name=${requirement%%[<>=!~ ]*}
    grep -qiE "^- '${name}[<>=!~ ].*# from collection sandboxed.containers'$|^- '${name}  # from collection sandboxed.containers'$" \
        "$work/introspect.txt" || [ "${name,,}" = pyyaml ] || fail "introspect does not list $requirement"
done < <(grep -vE '^\s*(#|$)' requirements.txt)
if grep -q "system:" "$work/introspect.txt" && sed -n '/^system:/,$p' "$work/introspect.txt" | grep -q 'sandboxed.containers'; then
    fail "the collection asks for system packages"
fi
echo "ansible-builder introspect: the Python requirements of requirements.txt (PyYAML comes with ansible-core), no system package"
