#!/usr/bin/env bash
# The main job from a fresh clone: set up, check the generated client against the spec,
# then create an interview through VersiveClient over a real HTTP connection: against
# the API when VERSIVE_API_KEY is set, else against the bundled fake on loopback.
# Needs only Python >= 3.11 and the package index.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

.venv/bin/python scripts/regenerate.py --check
.venv/bin/python scripts/demo.py
