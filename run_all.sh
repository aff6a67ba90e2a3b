#!/usr/bin/env bash
# The whole study: set up .venv (first run), generate SynthCity if missing, execute every notebook, then
# build the report (report/main.pdf) from results/.
#   ./run_all.sh [--profile smoke|demo|full] [--only 00,01] [--data-root DIR] [--report-only]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PROFILE=demo ONLY="" DATA_ROOT="" REPORT_ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --data-root) DATA_ROOT="$2"; shift 2 ;;
        --report-only) REPORT_ONLY=1; shift ;;
        -h|--help) sed -n 2,4p "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see ./run_all.sh --help)" >&2; exit 2 ;;
    esac
done
case "$PROFILE" in smoke|demo|full) ;; *) echo "--profile must be smoke, demo or full" >&2; exit 2 ;; esac
# A stop (Ctrl-C, kill) is passed to the running step, which shuts its notebook kernel down, then we exit.
child=""
run() { "$@" & child=$!; wait "$child"; local rc=$?; child=""; return $rc; }
trap 'trap - TERM INT; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"; echo "stopped" >&2; exit 143' TERM INT

source scripts/bootstrap_venv.sh
scripts/install_system_deps.sh tex || echo "[report] without TeX the notebooks still run; the PDF is skipped" >&2
if [ -n "$REPORT_ONLY" ]; then
    echo "== report (from existing results)"
    exec python -m vpr_lib.report
fi

if [ -z "$DATA_ROOT" ]; then
    if [ "$PROFILE" = full ]; then
        echo "The full profile runs on the real datasets: give --data-root DIR (holding gsv_xs/, sf_xs/, tokyo_xs/)." >&2
        exit 2
    fi
    echo "== SynthCity ($PROFILE)"
    run python -m vpr_lib.synth --profile "$PROFILE" --seed 0
fi
echo "== notebooks ($PROFILE)"
status=0
run python -m vpr_lib.notebooks --profile "$PROFILE" --only "$ONLY" --data-root "$DATA_ROOT" || status=$?
echo "== report"
run python -m vpr_lib.report || status=1
exit $status
