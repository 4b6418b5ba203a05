#!/usr/bin/env bash
# The test suite on a fresh machine: set up .venv with the test extras, then run pytest.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo_root/scripts/setup_env.sh" test
cd "$repo_root"
exec python -m pytest -q -rs "$@"
