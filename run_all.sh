#!/usr/bin/env bash
# The study's notebooks: set up .venv (first run), generate SynthCity if missing, execute every notebook, then build
# the report. --profile study writes results/ and report/main.pdf (what git holds); the default demo and every
# other profile write results/<profile>/ (its PDF: results/<profile>/report/main.pdf) and reuse the study's runs.
#   ./run_all.sh [--profile smoke|demo|study|full] [--only 00,01] [--data-root DIR] [--report-only]
#                [--executor local|slurm] [--jobs N] [--cluster KEY=VALUE]...
# --executor slurm trains the pending runs as a SLURM job array first (params/cluster.yaml, docs/cluster.md);
# --jobs N trains N runs at once on this machine.  Without them the notebooks train their runs one by one.
# Exit status: 0 done (without TeX the PDF is skipped, said so), 1 a notebook, a dispatched run or the PDF failed
# (named), 2 bad arguments (checked before any work), 130/143 stopped.
set -euo pipefail
CALLER_DIR="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")"
PROFILE=demo ONLY="" DATA_ROOT="" REPORT_ONLY="" DISPATCH=()
# an option that takes a value, given without one (last, or followed by another option)
need_value() { case "${2-}" in ""|--*) echo "$1 needs a value (see ./run_all.sh --help)" >&2; exit 2 ;; esac; }
while [ $# -gt 0 ]; do
    case "$1" in
        --profile|--only|--data-root|--executor|--jobs|--cluster) need_value "$1" "${2-}" ;;
    esac
    case "$1" in
        --profile) PROFILE="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --data-root) DATA_ROOT="$2"; shift 2 ;;
        --report-only) REPORT_ONLY=1; shift ;;
        --executor)
            case "${2:-}" in local|slurm) ;; *) echo "--executor must be local or slurm" >&2; exit 2 ;; esac
            DISPATCH+=(--executor "$2"); shift 2 ;;
        --jobs)
            case "${2:-}" in ''|*[!0-9]*|0) echo "--jobs must be a positive number of runs at once" >&2; exit 2 ;; esac
            DISPATCH+=(--jobs "$2"); shift 2 ;;
        --cluster)
            case "${2:-}" in *=*) ;; *) echo "--cluster takes KEY=VALUE (params/cluster.yaml's keys)" >&2; exit 2 ;; esac
            DISPATCH+=(--cluster "$2"); shift 2 ;;
        -h|--help) sed -n 2,10p "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see ./run_all.sh --help)" >&2; exit 2 ;;
    esac
done
case "$PROFILE" in smoke|demo|study|full) ;; *) echo "--profile must be smoke, demo, study or full" >&2; exit 2 ;; esac
for number in ${ONLY//,/ }; do
    if ! [[ "$number" =~ ^[0-9][0-9]$ ]] || ! compgen -G "notebooks/${number}_*.ipynb" >/dev/null; then
        echo "--only: no notebook numbered $number; available: $(cd notebooks && ls [0-9][0-9]_*.ipynb | cut -c1-2 | paste -sd,)" >&2
        exit 2
    fi
done
case "$DATA_ROOT" in ""|/*) ;; *) DATA_ROOT="$CALLER_DIR/$DATA_ROOT" ;; esac  # relative to where it was typed
# the stores, relative to where the command was typed, for every step (the notebooks' kernels run in notebooks/)
for store in VPR_RESULTS VPR_RUNS VPR_DATA; do
    case "${!store:-}" in ""|/*) ;; *) export "$store=$CALLER_DIR/${!store}" ;; esac
done
# results/ holds the committed study; every other profile writes its tables, figures, executed notebooks and PDF into
# results/<profile>/ (never replacing the study's), and shares the study's runs (the same run ids: reused)
if [ -z "${VPR_RESULTS:-}" ] && [ "$PROFILE" != study ]; then
    export VPR_RESULTS="${VPR_ROOT:-$PWD}/results/$PROFILE"
    export VPR_RUNS="${VPR_RUNS:-${VPR_ROOT:-$PWD}/results/runs}"
fi
if ! [[ "${VPR_STOP_GRACE:-30}" =~ ^[1-9][0-9]*$ ]]; then
    echo "VPR_STOP_GRACE=${VPR_STOP_GRACE}: expected whole seconds (default 30) that a stopped step gets to shut down" >&2
    exit 2
fi
if [ -n "$DATA_ROOT" ] && [ ! -d "$DATA_ROOT" ]; then
    echo "--data-root $DATA_ROOT is not a folder: expected one holding gsv_xs/, sf_xs/ and tokyo_xs/" >&2
    exit 2
fi
if [ "$PROFILE" = full ] && [ -z "$DATA_ROOT" ] && [ -z "$REPORT_ONLY" ]; then
    echo "The full profile runs on the real datasets: give --data-root DIR (holding gsv_xs/, sf_xs/, tokyo_xs/)." >&2
    exit 2
fi
# A stop (Ctrl-C, kill) is passed to the running step, which shuts its notebook kernel down, then we exit with the
# signal's code (130 for INT, 143 for TERM). Each step also dies with this script (vpr_lib.process): a kill -9 of
# run_all.sh leaves no runner or kernel working on.
child=""
run() { "$@" & child=$!; wait "$child"; local rc=$?; child=""; return $rc; }
stop() {
    trap - TERM INT
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
        # a step that has not shut down within VPR_STOP_GRACE seconds (30; a kernel shutdown caught between two
        # signals) is killed, with its own children (the kernel): the stop is bounded and leaves nothing working
        ( sleep "${VPR_STOP_GRACE:-30}"; pkill -KILL -P "$child"; kill -KILL "$child" ) >/dev/null 2>&1 &
        local killer=$!
        wait "$child" 2>/dev/null || true
        pkill -P "$killer" 2>/dev/null || true; kill "$killer" 2>/dev/null || true  # its sleep too: nothing outlives us
    fi
    echo "stopped" >&2
    exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM
export VPR_DIE_WITH_PARENT=$$  # the Python steps ask Linux to stop them when this script dies (vpr_lib/process.py)

source scripts/bootstrap_venv.sh
scripts/install_system_deps.sh tex || echo "[report] without TeX the notebooks still run; the PDF is skipped" >&2
if [ -n "$REPORT_ONLY" ]; then
    echo "== report (from existing results)"
    run python -m vpr_lib.report
    exit
fi

if [ -z "$DATA_ROOT" ]; then
    SYNTH_PROFILE=$PROFILE
    [ "$PROFILE" = study ] && SYNTH_PROFILE=demo  # the study runs on the demo's SynthCity (vpr_lib/paths.py)
    echo "== SynthCity ($SYNTH_PROFILE)"
    run python -m vpr_lib.synth --profile "$SYNTH_PROFILE" --seed 0
fi
echo "== notebooks ($PROFILE)"
status=0
run python -m vpr_lib.notebooks --profile "$PROFILE" --only "$ONLY" --data-root "$DATA_ROOT" ${DISPATCH[@]+"${DISPATCH[@]}"} \
    || status=$?
[ "$status" -eq 2 ] && exit 2  # a bad --cluster setting or data: said above, nothing trained
echo "== report"
run python -m vpr_lib.report --allow-empty || status=1
exit $status
