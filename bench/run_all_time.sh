#!/usr/bin/env bash
# Wall time of ./run_all.sh in a fresh clone of this repository (what a new user waits), for a profile.
#   bench/run_all_time.sh [smoke|demo]   (default demo; the clone goes to a temporary folder, removed after)
set -euo pipefail
PROFILE="${1:-demo}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLONE="$(mktemp -d)/vpr-study-kit"
git clone -q "$REPO" "$CLONE"
trap 'rm -rf "$(dirname "$CLONE")"' EXIT
start=$(date +%s)
(cd "$CLONE" && ./run_all.sh --profile "$PROFILE" > run_all.log 2>&1) || { tail -20 "$CLONE/run_all.log"; exit 1; }
end=$(date +%s)
grep -E "done in|FAILED" "$CLONE/run_all.log" || true
echo "run_all.sh --profile $PROFILE in a fresh clone ($(git -C "$REPO" rev-parse --short HEAD)): $(( end - start )) s" \
     "on $(nproc) cores, $(uname -m) ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p')), $(date -u +%Y-%m-%d)"
