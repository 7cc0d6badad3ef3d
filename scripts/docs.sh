#!/usr/bin/env bash
# Build the reference site into SITE (default site/) with --strict: a broken link, a missing
# page or a name the reference cannot find fails it. usage: scripts/docs.sh [SITE]
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "${1:-site}"
