#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler from
# the wrapper module in wrapper/ into a cache outside the repository, keyed by the
# versions and the go.sum, so a second build is instant. Prints the directory
# that holds the binaries on its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mod="$here/wrapper"
cache_root=${SANDBOXED_CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sandboxed-containers}

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "no Go toolchain on PATH: the local cluster is built from Go modules. Install Go 1.24 or newer (go.dev/doc/install) and run this again."

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

cd "$mod"
k8s_version=$(sed -n 's/^\(require\)\{0,1\}[[:space:]]*k8s.io\/kubernetes \(v[0-9.]*\).*/\2/p' go.mod | head -n1)
[ -n "$k8s_version" ] || die "tests/cluster/wrapper/go.mod requires no k8s.io/kubernetes vX.Y.Z"
etcd_version=$(sed -n 's/^[[:space:]]*go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\).*/\1/p' go.mod | head -n1)
sum=$(cat go.mod go.sum | sha256sum | cut -c1-12)
out="$cache_root/bin/kubernetes-$k8s_version-etcd-$etcd_version-$sum"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler)

have_all() { for c in "${components[@]}"; do [ -x "$out/$c" ] || return 1; done; }
if have_all; then
  echo "binaries cached: kubernetes $k8s_version, etcd $etcd_version" >&2
  echo "$out"
  exit 0
fi

run() {
  # Runs a go command; on failure prints the command and the tail of its output.
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    echo "error: this command failed (exit $?): $*" >&2
    grep -E 'refused|not found|unknown revision|410 Gone|404|invalid version|no matching versions|dial tcp|error' "$log" | head -n 5 >&2 || true
    tail -n 15 "$log" >&2
    rm -f "$log"
    die "could not build the local cluster; a module the proxy does not serve is named above"
  fi
  rm -f "$log"
}

start=$(date +%s)
echo "building kubernetes $k8s_version and etcd $etcd_version (first time: several minutes)" >&2
run go mod download

minor=$(echo "$k8s_version" | cut -d. -f2)
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

mkdir -p "$out.tmp"
declare -A pkgs=(
  [etcd]=go.etcd.io/etcd/server/v3
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
)
for c in "${components[@]}"; do
  t0=$(date +%s)
  flags=$ldflags
  [ "$c" = etcd ] && flags="-s -w"
  run go build -trimpath -buildvcs=false -ldflags "$flags" -o "$out.tmp/$c" "${pkgs[$c]}"
  echo "  built $c in $(( $(date +%s) - t0 )) s" >&2
done
rm -rf "$out" && mv "$out.tmp" "$out"
echo "built the local cluster in $(( $(date +%s) - start )) s" >&2
echo "$out"
