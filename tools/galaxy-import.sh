#!/usr/bin/env bash
# Builds the collection from the tracked files and imports the tarball with galaxy-importer, as Galaxy does
# on an upload (ansible-doc on every plugin, ansible-lint --profile production, changelog, metadata, flake8),
# locally and without containers (tools/galaxy-importer.cfg). Fails on any warning or error. Then checks what
# the tarball holds: the content and docs, none of the development files.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
venv=$(cd "${VENV:-.venv}" && pwd)
out=$repo/build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tools/copy-tracked.sh "$work/src"
mkdir -p "$out"
"$venv/bin/ansible-galaxy" collection build "$work/src" --output-path "$out" --force >/dev/null
version=$("$venv/bin/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
tarball=$out/sandboxed-containers-$version.tar.gz
echo "built $tarball ($(du -k "$tarball" | cut -f1) KiB)"

# What the tarball must hold, and what it must not.
listing=$(tar -tzf "$tarball")
missing=()
for f in MANIFEST.json FILES.json README.md LICENSE requirements.txt requirements.yml meta/runtime.yml \
        meta/execution-environment.yml changelogs/changelog.yaml changelogs/config.yaml docs/ playbooks/ \
        roles/ plugins/modules/ plugins/action/ plugins/module_utils/ plugins/doc_fragments/; do
    grep -qx -- "$f" <<<"$listing" || missing+=("$f")
done
unwanted=$(grep -E '^(tests|tools|bench|build|dist|\.ci|\.venv|\.cluster|\.collections|\.cache|\.ansible|\.pytest_cache|docs/build)(/|$)|^(Makefile|ansible\.cfg|pyproject\.toml|requirements-(dev|compat)\.txt|execution-environment\.yml)$' <<<"$listing" || true)
if [ ${#missing[@]} -gt 0 ] || [ -n "$unwanted" ]; then
    [ ${#missing[@]} -eq 0 ] || echo "error: the tarball lacks: ${missing[*]}" >&2
    [ -z "$unwanted" ] || { echo "error: the tarball holds development files:" >&2; echo "$unwanted" >&2; }
    exit 1
fi

log=$work/import.log
status=0
# In the scratch directory: galaxy-importer writes importer_result.json where it runs.
(cd "$work" && env PATH="$venv/bin:$PATH" GALAXY_IMPORTER_CONFIG="$repo/tools/galaxy-importer.cfg" \
    "$venv/bin/python" -m galaxy_importer.main "$tarball" >"$log" 2>&1) || status=$?
problems=$(grep -E '^(WARNING|ERROR|CRITICAL)|Traceback' "$log" || true)
if [ "$status" -ne 0 ] || [ -n "$problems" ] || ! grep -q 'Collection loading complete' "$log"; then
    cat "$log" >&2
    echo "error: galaxy-importer: exit code $status, $(grep -cE '^(WARNING|ERROR|CRITICAL)' "$log" || true) warnings and errors" >&2
    exit 1
fi
grep -E '^(Loading|Linting|Running|\.\.\.)' "$log" || true
echo "galaxy-importer: imported $(basename "$tarball") with no warning and no error"
