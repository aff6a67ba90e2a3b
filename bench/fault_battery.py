"""A fault battery on the smoke profile: bad values for every parameter type, kills during each phase of a run and
during report writing, two run_all.sh at once on one store and on two.  Prints one line per trial (held or
FAILED) and exits 1 if any failed; docs/reliability.md records the last output.

    python bench/fault_battery.py [--skip-run-all] [--only bad-values|kills|report|run-all]
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
from vpr_lib.train.settings import FLEXIBLE_TYPES, TRAIN_DEFAULTS  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-run-all", action="store_true", help="leave out the two run_all.sh trials (minutes)")
    ap.add_argument("--only", choices=["bad-values", "kills", "report", "run-all"], help="one group of trials")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fault_battery."))
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout
    print(f"fault battery on {platform.machine()} ({cpu.strip()}), {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    try:
        data = work / "smoke"
        generate("smoke", 0, data, workers=2, progress=False)
        groups = {"bad-values": lambda: bad_values(data, work), "kills": lambda: kills_during_a_run(data, work),
                  "report": lambda: kills_during_the_report(work), "run-all": lambda: two_run_alls(work)}
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
