#!/usr/bin/env bash
# Build the release files once, and check them: the sdist, then the wheel built from that
# sdist (as an installer would), into OUT (default dist/). Checks: twine's (metadata, the
# README as PyPI renders it), check-wheel-contents (no stray or duplicate files, nothing
# outside the package), and scripts/release.py's (one sdist and one wheel of the version in
# versive_client/_version.py, py.typed in the wheel, the sdist able to regenerate and test).
# Run after scripts/bootstrap.sh (scripts/test.sh does both). usage: scripts/dist.sh [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-dist}
# OUT holds release files only: a folder with anything else in it is refused, never emptied.
if [ -e "$out" ]; then
  others=$(find "$out" -mindepth 1 -maxdepth 1 ! -name 'versive_client-*' ! -name .gitignore -printf '%f ' 2>/dev/null || true)
  if [ ! -d "$out" ] || [ -n "$others" ]; then
    echo "scripts/dist.sh: $out must be a new folder or one of release files only; it holds: ${others:-a file}" >&2
    exit 2
  fi
  rm -f "$out"/versive_client-* "$out/.gitignore"
fi
.uv/bin/uv build --quiet --no-progress --out-dir "$out"
rm -f "$out/.gitignore"  # uv marks its output folder; only the two files are released
.venv/bin/twine check --strict "$out"/*
.venv/bin/check-wheel-contents "$out"/*.whl
.venv/bin/python scripts/release.py check-dist "$out"
