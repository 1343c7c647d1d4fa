#!/usr/bin/env bash
# Builds ignition-validate (main.go, against github.com/coreos/ignition/v2) into
# a cache outside the repository, keyed by a hash of go.mod, go.sum and main.go,
# so a second build is instant. Prints the binary's path on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${SANDBOXED_CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sandboxed-containers}

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

cd "$here"
sum=$(cat go.mod go.sum main.go | sha256sum | cut -c1-12)
out="$cache_root/bin/ignition-validate-$sum"
if [ -x "$out/ignition-validate" ]; then
  echo "$out/ignition-validate"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "no Go toolchain on PATH: ignition-validate is built from Go modules. Install Go 1.24 or newer (go.dev/doc/install) and run this again."
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
mkdir -p "$out.tmp"
if ! go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$out.tmp/ignition-validate" . >"$log" 2>&1; then
  tail -n 15 "$log" >&2
  die "could not build ignition-validate (go build in tests/cluster/ignition-validate failed; its output is above)"
fi
rm -rf "$out" && mv "$out.tmp" "$out"
echo "built ignition-validate in $(( $(date +%s) - start )) s" >&2
echo "$out/ignition-validate"
