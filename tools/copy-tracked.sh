#!/usr/bin/env bash
# Copies the files git tracks, as they are in the work tree, into DEST (made empty first):
#   tools/copy-tracked.sh DEST
# Untracked files (local venvs, clusters, caches) stay out; new files need `git add` (or `git add -N`).
set -euo pipefail
dest=${1:?usage: tools/copy-tracked.sh DEST}
cd "$(dirname "$0")/.."
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -z | while IFS= read -r -d '' f; do
    if [ -e "$f" ]; then printf '%s\0' "$f"; fi
done | tar --null -T - -cf - | tar -x -C "$dest"
