#!/usr/bin/env bash
# The whole test suite from a fresh clone: environment, regeneration check, lint, types, tests.
# Needs only Python >= 3.11 and the package index. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

step() { printf '\n== %s\n' "$*"; "$@"; }

# Prism (the independent mock the contract tests run against) needs Node.js and npm.
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step apt-get update -qq
    step env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  else
    echo "Node.js and npm are needed for the contract tests against Prism; install them and rerun." >&2
    exit 1
  fi
fi
lock_sum=$(sha256sum tests/prism/package-lock.json | cut -d" " -f1)
if [ "$(cat tests/prism/node_modules/.lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  step npm ci --prefix tests/prism --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > tests/prism/node_modules/.lock-sha256
fi
step .venv/bin/python scripts/regenerate.py --check
step .venv/bin/ruff check
step .venv/bin/ruff format --check
step .venv/bin/mypy

# Test what ships: the sdist and the wheel, built once and checked (scripts/dist.sh), or the
# files a release built (VERSIVE_DIST=DIR); the suite imports the package from that wheel,
# installed into .venv-wheel beside the locked dependencies, never from this tree.
dist=${VERSIVE_DIST:-dist}
if [ -z "${VERSIVE_DIST:-}" ]; then
  step bash scripts/dist.sh "$dist"
fi
step .venv/bin/python scripts/release.py check-dist "$dist"
step env UV_PROJECT_ENVIRONMENT=.venv-wheel .uv/bin/uv sync --locked --all-extras --no-install-project \
  --quiet --compile-bytecode --python "$PYTHON"
step .uv/bin/uv pip install --quiet --python .venv-wheel/bin/python --no-deps --reinstall "$dist"/*.whl
# PYTHONSAFEPATH: no interpreter the tests start puts this folder (and its versive_client/)
# first on sys.path; scripts/ is there for the scripts the tests run.
export PYTHONSAFEPATH=1 PYTHONPATH="$PWD/scripts"
# The files under test, for the tests that read them (tests/test_installed.py, test_packaging.py, test_release.py).
dist=$(cd "$dist" && pwd)
export VERSIVE_TEST_WHEEL=$(ls "$dist"/*.whl) VERSIVE_TEST_SDIST=$(ls "$dist"/*.tar.gz)
rm -f .coverage .coverage.*
step .venv-wheel/bin/coverage run .venv-wheel/bin/pytest "$@"
step .venv-wheel/bin/coverage combine --quiet
step .venv-wheel/bin/coverage report
# Every hand-written module of the package: at least 95% of lines and branches.
step .venv-wheel/bin/coverage json --quiet --include='versive_client/*' -o .coverage.json
step .venv/bin/python - <<'PY'
import json, sys
files = json.load(open(".coverage.json"))["files"]
low = {name: f["summary"]["percent_covered"] for name, f in files.items() if f["summary"]["percent_covered"] < 95}
for name, percent in sorted(low.items()):
    print(f"coverage below 95%: {name} {percent:.1f}%")
print(f"coverage: {len(files) - len(low)} of {len(files)} hand-written modules at >= 95%")
sys.exit(1 if low else 0)
PY
