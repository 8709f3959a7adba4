#!/bin/sh
# Builds powerjockey's .deb and .rpm from this tree into dist/ (see
# deploy/package/main.go; flags: -arch amd64,arm64, -out DIR,
# -print-build-args). Reproducible: SOURCE_DATE_EPOCH defaults to the
# commit's time.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
exec go -C "$root/deploy/package" run . -root "$root" "$@"
