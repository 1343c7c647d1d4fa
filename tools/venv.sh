#!/usr/bin/env bash
# Makes the virtualenv LINK (.venv, .venv-compat) with the pinned REQUIREMENTS and PYTHON.
# A LINK that is a directory of its own is installed into, as it is. Otherwise the venv is built once
# outside the checkout, in $SANDBOXED_CONTAINERS_CACHE (default ~/.cache/sandboxed-containers)/venv/,
# keyed by the requirements file's content and the Python version, and LINK points to it: a fresh clone
# (CI) links it in a second instead of installing it again. A venv cannot move once built, so it is
# built in place, under a lock, and marked complete at the end; an interrupted build is started over.
set -euo pipefail
link=$1 requirements=$2 python=$3

install() {  # $1: the venv directory
    test -x "$1/bin/python" || "$python" -m venv "$1"
    "$1/bin/python" -m pip install --quiet --upgrade pip
    "$1/bin/python" -m pip install --quiet -r "$requirements"
}

if [ -d "$link" ] && [ ! -L "$link" ]; then
    install "$link"
    exit 0
fi

cache=${SANDBOXED_CONTAINERS_CACHE:-$HOME/.cache/sandboxed-containers}/venv
key=$({ cat "$requirements"; "$python" -VV; } | sha256sum | cut -c1-16)
dir="$cache/$(basename "$requirements" .txt)-$key"
mkdir -p "$cache"
(
    flock 9
    if [ ! -f "$dir/.complete" ]; then
        rm -rf "$dir"
        echo "building the virtualenv for $requirements in $dir (once; later checkouts link it)"
        install "$dir"
        touch "$dir/.complete"
    fi
) 9>"$dir.lock"
ln -sfn "$dir" "$link"
