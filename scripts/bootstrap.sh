# Sourced by scripts/test.sh and scripts/main.sh: makes .venv/ match uv.lock.
# Needs only Python >= 3.11 and the package index: uv (pinned) is installed into .uv/,
# then `uv sync --locked` installs the exact locked versions and the project itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION=0.13.8
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "versive-client needs Python >= 3.11; $PYTHON is $("$PYTHON" --version)" >&2; exit 1; }

if [ "$(.uv/bin/uv --version 2>/dev/null | cut -d" " -f2)" != "$UV_VERSION" ]; then
  rm -rf .uv
  "$PYTHON" -m venv .uv
  .uv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
# --compile-bytecode, as pip does on install: otherwise, with PYTHONDONTWRITEBYTECODE set,
# every fresh interpreter (the CLI tests, the benchmark) compiles its dependencies again.
.uv/bin/uv sync --locked --all-extras --quiet --compile-bytecode --python "$PYTHON"
