#!/usr/bin/env bash
# The test suite: set up .venv (first run), then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/bootstrap_venv.sh
python -m pytest "$@"
