"""A fault battery on the smoke profile: bad values for every parameter type, kills during each phase of a run and
during report writing, two run_all.sh at once on one store and on two, and issue 31's items (content identity,
atomic outputs, torn files, exit codes, the dispatcher, Colab) through the tests that reproduce them.  Prints one
line per trial (held or FAILED) and exits 1 if any failed; docs/reliability.md records the last output.

    python bench/fault_battery.py [--skip-run-all] [--only bad-values|kills|report|run-all|issue-31]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vpr_lib.config import load_params, run_configs  # noqa: E402
from vpr_lib.errors import VPRInputError  # noqa: E402
from vpr_lib.synth.generate import generate  # noqa: E402
from vpr_lib.settings import FLEXIBLE_TYPES, TRAIN_DEFAULTS  # noqa: E402

RESULTS: list[tuple[str, bool, str]] = []


def trial(name: str, held: bool, detail: str = "") -> None:
    RESULTS.append((name, held, detail))
    print(f"{'held  ' if held else 'FAILED'} {name}{': ' + detail if detail else ''}", flush=True)


def wrong_value(default):
    """A value of the wrong type for a key whose default is `default`."""
    if isinstance(default, bool):
        return "maybe"
    if isinstance(default, (int, float)):
        return "three"
    if isinstance(default, str):
        return 12
    if isinstance(default, list):
        return 5
    if isinstance(default, dict):
        return [1, 2]
    return object()


def bad_values(data: Path, work: Path) -> None:
    """Every training key with a value of the wrong type: one VPRInputError, nothing in the results store."""
    from vpr_lib.train.run import train
    os.environ["VPR_RESULTS"] = str(work / "bad_values")
    for key, default in TRAIN_DEFAULTS.items():
        if key in FLEXIBLE_TYPES or key == "data_root":
            continue
        value = wrong_value(default)
        try:
            configs = run_configs(load_params("01_baseline", "smoke", {"data_root": str(data), key: value}))
            train(configs[0], progress=False)
            trial(f"bad value {key}={value!r}", False, "trained without complaint")
        except VPRInputError as e:
            store = work / "bad_values" / "runs"
            clean = not store.exists() or not any(store.iterdir())
            trial(f"bad value {key}={value!r}", clean, str(e)[:90] + ("" if clean else " (but a run folder was left)"))
        except Exception as e:  # noqa: BLE001 - a traceback instead of a message is what this battery looks for
            trial(f"bad value {key}={value!r}", False, f"{type(e).__name__}: {e}"[:120])


def train_cli(results: Path, data: Path) -> subprocess.Popen:
    env = dict(os.environ, VPR_RESULTS=str(results), PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "vpr_lib.train", "--params", "params/01_baseline.yaml", "--profile",
                             "smoke", "--no-progress", "--variant", "starter", "--set", f"data_root={data}", "--set",
                             "epochs=4"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_dir(results: Path) -> Path | None:
    runs = sorted((results / "runs").glob("*")) if (results / "runs").exists() else []
    return runs[0] if runs else None


def _epochs_done(run: Path) -> int:
    try:
        return int(pd.read_csv(run / "epochs.csv").epoch.max())
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return -1


# (phase, condition on the run folder that says the run is in it): the kill comes as soon as it holds
PHASES = [
    ("data check and model build (no run folder yet)", lambda run: True),
    ("epoch-0 validation", lambda run: run is not None and (run / "params.yaml").exists()),
    ("training, after epoch 1", lambda run: run is not None and _epochs_done(run) >= 1),
    ("training, after epoch 3", lambda run: run is not None and _epochs_done(run) >= 3),
    ("test evaluation", lambda run: run is not None and (run / "predictions").exists()),
]


def kills_during_a_run(data: Path, work: Path) -> None:
    """Kill -9 as soon as a run reaches each phase, resume; the metrics must equal an uninterrupted run's."""
    out, err = train_cli(work / "kills_reference", data).communicate(timeout=600)
    expected = json.loads((Path(out.strip().splitlines()[-1]) / "metrics.json").read_text())["test"]
    for i, (phase, reached) in enumerate(PHASES):
        results = work / f"kill_{i}"
        proc = train_cli(results, data)
        if i == 0:
            time.sleep(8)  # imports done, reading the data
        while proc.poll() is None and not reached(_run_dir(results)):
            time.sleep(0.02)
        hit = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        out, err = train_cli(results, data).communicate(timeout=600)
        name = f"kill -9 during {phase}, then resume" + ("" if hit else " (the run ended before the kill)")
        try:
            got = json.loads((Path(out.strip().splitlines()[-1]) / "metrics.json").read_text())["test"]
            trial(name, got == expected and hit, "same test recalls as uninterrupted" if got == expected
                  else f"{got} vs {expected}")
        except (IndexError, OSError, ValueError) as e:
            trial(name, False, f"{e}; {err[-200:]}")


def kills_during_the_report(work: Path) -> None:
    """Kill the report build at moments spread over it: report/generated stays whole (old or new)."""
    clone = work / "report_clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = dict(os.environ, VPR_RESULTS=str(REPO / "results"), VPR_ROOT=str(clone))
    cmd = [sys.executable, "-m", "vpr_lib.report", "--no-pdf"]
    start = time.time()
    subprocess.run(cmd, cwd=clone, env=env, check=True, capture_output=True)
    duration = time.time() - start
    before = sorted(p.name for p in (clone / "report" / "generated").rglob("*"))
    for fraction in (0.2, 0.5, 0.8):
        proc = subprocess.Popen(cmd, cwd=clone, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = sorted(p.name for p in (clone / "report" / "generated").rglob("*"))
        trial(f"kill -9 at {fraction:.0%} of the report build", after == before,
              "report/generated whole" if after == before else "report/generated changed")


def two_run_alls(work: Path) -> None:
    """Two ./run_all.sh --profile smoke --only 01,02 at once, on one results store and on two."""
    clone = work / "run_all_clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    if (REPO / ".venv").exists() and not (clone / ".venv").exists():
        (clone / ".venv").symlink_to(REPO / ".venv")  # its packages; the clone's own code comes first (PYTHONPATH)
    for stores in ("one store", "two stores"):
        env = [dict(os.environ, PYTHONPATH=str(clone),
                    VPR_RESULTS=str(work / f"store_{stores[:3]}_{i if stores == 'two stores' else 0}")) for i in range(2)]
        procs = [subprocess.Popen(["./run_all.sh", "--profile", "smoke", "--only", "01,02"], cwd=clone, env=e,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for e in env]
        outs = [p.communicate(timeout=1800)[0] for p in procs]
        codes = [p.returncode for p in procs]
        trial(f"two run_all.sh at once on {stores}", codes == [0, 0], f"exit codes {codes}" +
              ("" if codes == [0, 0] else "; " + outs[codes.index(max(codes))][-300:].replace("\n", " | ")))


# Issue 31's battery: each item, and the tests that reproduce it (each failed before its fix). The trial runs them
# through pytest on this checkout, so the battery and the suite cannot drift apart.
ITEMS = {
    "1 a run reused after its data or weights changed": [
        "tests/test_input_identity.py::test_a_copy_of_synthcity_with_queries_removed_is_other_data",
        "tests/test_input_identity.py::test_an_image_rewritten_with_its_size_and_mtime_kept_is_other_data",
        "tests/test_input_identity.py::test_a_weights_file_is_identified_by_its_content_not_its_path"],
    "2 the prefix cache keyed by path, size and mtime": [
        "tests/test_input_identity.py::test_the_prefix_cache_keys_images_by_content",
        "tests/test_input_identity.py::test_a_torn_prefix_cache_file_is_set_aside_and_computed_again"],
    "3 a copied project runs the original's code": [
        "tests/test_setup.py::test_a_venv_copied_with_its_project_is_repointed_at_the_copy"],
    "4 a typo in a params file's defaults ignored": [
        "tests/test_hardening.py::test_a_typo_in_a_params_files_defaults_stops_before_work",
        "tests/test_hardening.py::test_an_unknown_key_in_a_run_config_is_refused"],
    "5 a relative VPR_RESULTS splits the store": [
        "tests/test_stops.py::test_a_relative_results_store_is_relative_to_where_run_all_was_typed"],
    "6 outputs deleted before their replacement exists": [
        "tests/test_atomic_outputs.py::test_a_failing_notebook_leaves_its_earlier_outputs_in_place",
        "tests/test_atomic_outputs.py::test_a_notebooks_outputs_wait_while_the_report_reads",
        "tests/test_atomic_outputs.py::test_a_latex_failure_keeps_the_previous_pdf"],
    "7 a torn checkpoint blocks every rerun": [
        "tests/test_atomic_outputs.py::test_a_torn_last_checkpoint_is_set_aside_and_the_run_starts_over",
        "tests/test_atomic_outputs.py::test_a_torn_best_checkpoint_is_named_and_its_run_trains_again",
        "tests/test_atomic_outputs.py::test_a_checkpoint_write_that_fails_leaves_the_previous_one",
        "tests/test_atomic_outputs.py::test_a_checkpoint_outside_the_store_is_never_renamed"],
    "8 epochs, batch and place counts out of range": ["tests/test_hardening.py::test_bad_parameters_stop_with_a_"
                                                      "message_and_write_nothing"],
    "9 a nan UTM in a file name": ["tests/test_names.py::test_a_non_finite_utm_names_the_file"],
    "10 run_all.sh argument handling": ["tests/test_report.py::test_run_all_stops_on_bad_arguments_with_2_before_"
                                        "any_work"],
    "11 exit codes on a stop, tracebacks, orphans": [
        "tests/test_stops.py::test_a_stop_exits_with_the_signals_code_without_a_traceback",
        "tests/test_stops.py::test_a_kill_9_of_run_all_leaves_no_step_working",
        "tests/test_stops.py::test_a_step_dies_with_its_parent_only_when_run_all_asks",
        "tests/test_stops.py::test_a_step_that_does_not_shut_down_is_killed_with_its_kernel_after_the_grace_time",
        "tests/test_notebooks.py::test_sigterm_stops_the_runner_and_shuts_its_kernel_down"],
    "12 EXIF orientation; temporary files of killed runs": [
        "tests/test_readers.py::test_exif_orientation_is_applied",
        "tests/test_atomic_outputs.py::test_temporary_files_of_dead_writers_are_removed_and_live_ones_kept"],
    "13 the dispatcher waits forever on purged jobs": [
        "tests/test_dispatch.py::test_jobs_purged_by_slurm_are_read_from_their_result_files_and_runs",
        "tests/test_dispatch.py::test_jobs_with_result_files_are_over_while_squeue_does_not_answer"],
    "14 bad parameters found only after submission": [
        "tests/test_dispatch.py::test_every_pending_runs_parameters_are_checked_before_submission"],
    "15 Colab: no retry, results lost, git's error hidden": [
        "tests/test_notebooks.py::test_colab_setup_cell_retries_a_failed_install",
        "tests/test_notebooks.py::test_colab_setup_cell_shows_gits_error_in_the_cell",
        "tests/test_notebooks.py::test_colab_setup_cell_reuses_an_installed_kit_and_mounts_drive"],
}


def issue_31_items(work: Path) -> None:
    """Every item of issue 31 through the tests that reproduce it: held when all of them pass."""
    import xml.etree.ElementTree as ElementTree
    report = work / "items.xml"
    tests = sorted({test for tests in ITEMS.values() for test in tests})
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *tests],
                   cwd=REPO, capture_output=True, text=True)
    outcomes: dict = {}
    for case in ElementTree.parse(report).iter("testcase"):
        node = f"tests/{case.get('classname').split('.')[-1]}.py::{case.get('name').split('[')[0]}"
        bad = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes.setdefault(node, []).extend(bad or ["passed"])
    for item, nodes in ITEMS.items():
        results = [outcome for node in nodes for outcome in outcomes.get(node, ["not run"])]
        held = all(outcome == "passed" for outcome in results)
        trial(f"issue 31 item {item}", held, f"{len(results)} test case(s) " + (
            "passed" if held else f"{sorted(set(results) - {'passed'})}"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-run-all", action="store_true", help="leave out the two run_all.sh trials (minutes)")
    ap.add_argument("--only", choices=["bad-values", "kills", "report", "run-all", "issue-31"],
                    help="one group of trials")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fault_battery."))
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout
    print(f"fault battery on {platform.machine()} ({cpu.strip()}), {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    try:
        data = work / "smoke"
        generate("smoke", 0, data, progress=False)
        groups = {"bad-values": lambda: bad_values(data, work), "kills": lambda: kills_during_a_run(data, work),
                  "report": lambda: kills_during_the_report(work), "run-all": lambda: two_run_alls(work),
                  "issue-31": lambda: issue_31_items(work)}
        for name, run in groups.items():
            if (args.only in (None, name)) and not (name == "run-all" and args.skip_run_all):
                run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, held, _ in RESULTS if not held]
    print(f"{len(RESULTS) - len(failed)} of {len(RESULTS)} trials held" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
