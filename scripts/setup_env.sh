#!/usr/bin/env bash
# Create (or reuse) .venv in the repository root and install had_tracker into it.
# torch==2.13.0 is installed first, so the package's torch range installs nothing more (no CUDA wheels).
# Usage: source scripts/setup_env.sh [EXTRAS]   e.g. EXTRAS=test
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HAD_VENV:-$repo_root/.venv}"
extras="${1:-}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet torch==2.13.0
if [ -n "$extras" ]; then
  python -m pip install --quiet -e "$repo_root[$extras]"
else
  python -m pip install --quiet -e "$repo_root"
fi
