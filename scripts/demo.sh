#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, then run the demo on the embedded synthetic default.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo_root/scripts/setup_env.sh" ""  # no extras (an explicit argument: sourcing would pass ours on)
cd "$repo_root"
exec had-tracker demo "$@"
