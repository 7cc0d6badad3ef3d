#!/usr/bin/env bash
# The whole test suite from a fresh clone: environment, regeneration check, lint, types, tests.
# Needs only Python >= 3.11 and the package index. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

step() { printf '\n== %s\n' "$*"; "$@"; }
step .venv/bin/python scripts/regenerate.py --check
step .venv/bin/ruff check
step .venv/bin/ruff format --check
step .venv/bin/mypy
rm -f .coverage .coverage.*
step .venv/bin/coverage run -m pytest "$@"
step .venv/bin/coverage combine --quiet
step .venv/bin/coverage report
