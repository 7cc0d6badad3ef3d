#!/usr/bin/env bash
# The main job from a fresh clone: set up, then prove the committed client matches the
# spec and list the operations it offers. Needs only Python >= 3.11 and the package index.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

.venv/bin/python scripts/regenerate.py --check
