#!/usr/bin/env bash
# The main job from a fresh clone: set up, check the generated client against the spec,
# then create an interview through VersiveClient over a real HTTP connection: with
# VERSIVE_API_KEY set, against the API (study $VERSIVE_STUDY_ID); otherwise `versive demo`
# against the bundled fake on loopback. Needs only Python >= 3.11 and the package index.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

.venv/bin/python scripts/regenerate.py --check
if [ -n "${VERSIVE_API_KEY:-}" ]; then
  .venv/bin/versive interviews create --study-id "${VERSIVE_STUDY_ID:?set VERSIVE_STUDY_ID to the study to create an interview for}" --json
else
  echo "VERSIVE_API_KEY is not set: running versive demo against the bundled fake Versive."
  .venv/bin/versive demo --json
fi
