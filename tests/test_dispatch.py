"""Dispatch (vpr_lib.dispatch): a study's pending runs as a SLURM job array or local processes through submitit,
tested against a real single-node SLURM (scripts/slurm_cluster.sh) that the tests start and stop by pid."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vpr_lib.config import notebook_runs
from vpr_lib.dispatch import cluster_settings, parse_settings
from vpr_lib.errors import VPRInputError

ROOT = Path(__file__).resolve().parents[1]
TASK = ["gpus_per_task=0", "cpus_per_task=1", "mem_gb=2", "timeout_min=20", "poll_seconds=1"]  # this machine's size


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """SLURM_CONF of a single-node cluster started for these tests; its daemons are stopped by pid afterwards."""
    required = os.environ.get("VPR_REQUIRE_SLURM") == "1"
    folder = tmp_path_factory.mktemp("slurm")
    start = subprocess.run([ROOT / "scripts/slurm_cluster.sh", "start", folder], capture_output=True, text=True)
    if start.returncode != 0:
        reason = f"SLURM cannot start here: {start.stderr.strip().splitlines()[-1] if start.stderr.strip() else ''}"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    pids = {name: int((folder / f"{name}.pid").read_text()) for name in ("munged", "slurmctld", "slurmd")}
    yield str(folder / "slurm.conf")
    subprocess.run([ROOT / "scripts/slurm_cluster.sh", "stop", folder], check=True)
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # every daemon the fixture started has exited


def run_ids(names, profile, data_root) -> set:
    from vpr_lib.train.run import run_id
    return {run_id(c) for name in names for c in notebook_runs(name, profile, data_root)}


def test_two_notebooks_dispatched_to_slurm_give_the_tables_of_a_local_run(slurm, synth_smoke, tmp_path, monkeypatch):
    from vpr_lib.experiments import run_experiment
    env = dict(os.environ, VPR_RESULTS=str(tmp_path / "slurm"), SLURM_CONF=slurm)
    done = subprocess.run([sys.executable, "-m", "vpr_lib.notebooks", "--profile", "smoke", "--only", "01,02",
                           "--data-root", str(synth_smoke), "--executor", "slurm", "--cluster", *TASK],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    expected = run_ids(["01_baseline", "02_gem"], "smoke", str(synth_smoke))
    assert f"submitted {len(expected)} runs to SLURM (job array " in done.stdout
    assert f"0 pending, 0 running, {len(expected)} done, 0 failed" in done.stdout
    jobs = {}
    for run_id in expected:  # each run trained in a SLURM job of one array, and the notebooks reused it
        jobs[run_id] = json.loads((tmp_path / "slurm/runs" / run_id / "env.json").read_text())["slurm"]
    assert len({job["SLURM_JOB_ID"] for job in jobs.values()}) == len(expected)
    assert len({job["SLURM_ARRAY_JOB_ID"] for job in jobs.values()}) == 1
    assert (tmp_path / "slurm/executed/02_gem.ipynb").is_file()

    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "local"))
    for name in ("01_baseline", "02_gem"):  # the notebooks' own path: trained here, one by one
        run_experiment(name, "smoke", str(synth_smoke), progress=False)
    timing = {"runs": ["train_seconds"], "epochs": ["train_s"]}
    for local in sorted((tmp_path / "local/tables").glob("*.csv")):
        kind = local.stem.rsplit("_", 1)[1]
        read = lambda path: pd.read_csv(path).drop(columns=timing.get(kind, []))
        pd.testing.assert_frame_equal(read(tmp_path / "slurm/tables" / local.name), read(local))


def test_a_job_array_that_sbatch_refuses_stops_with_its_message(slurm, synth_smoke, tmp_path):
    env = dict(os.environ, VPR_RESULTS=str(tmp_path / "results"), SLURM_CONF=slurm)
    done = subprocess.run([sys.executable, "-m", "vpr_lib.dispatch", "--executor", "slurm", "--profile", "smoke",
                           "--only", "01", "--data-root", str(synth_smoke), "--cluster", *TASK, "partition=nosuch"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "sbatch refused the job array" in done.stderr, done.stderr[-2000:]
    assert "invalid partition" in done.stderr.lower() and "Traceback" not in done.stderr


def write_long_study(root: Path, epochs: int) -> Path:
    """A copy of the kit's params with 01_baseline's smoke run trained for `epochs` (VPR_ROOT points at it)."""
    shutil.copytree(ROOT / "params", root / "params")
    (root / "notebooks").symlink_to(ROOT / "notebooks")
    spec = yaml.safe_load((root / "params/01_baseline.yaml").read_text())
    spec["profiles"]["smoke"]["epochs"] = epochs
    (root / "params/01_baseline.yaml").write_text(yaml.safe_dump(spec))
    return root


def wait_for_epochs(results: Path, at_least: int, proc, timeout: float = 300) -> Path:
    """The run folder once its epochs.csv has `at_least` rows after epoch 0 and a last.ckpt exists."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        for epochs in results.glob("runs/*/epochs.csv"):
            if (epochs.parent / "checkpoints/last.ckpt").exists() and pd.read_csv(epochs).epoch.max() >= at_least:
                return epochs.parent
        time.sleep(0.1)
    said = ""
    if proc.poll() is not None:  # the dispatcher stopped: what it and the job's logs said, for a rare failure
        out, err = proc.communicate()
        logs = [f"{log.name}: " + log.read_text()[-2000:] for log in sorted(results.glob("dispatch/*/*_log.*"))]
        said = "\n".join([out[-2000:], err[-2000:], *logs])
    raise AssertionError(f"no checkpoint after epoch {at_least} within {timeout} s: {proc.poll()}\n{said}")


def slurm_job(run_dir: Path) -> dict:
    return json.loads((run_dir / "env.json").read_text())["slurm"]


def test_a_preempted_task_requeues_itself_and_a_cancelled_one_is_resubmitted_both_resume_to_the_same_metrics(
        slurm, synth_smoke, tmp_path, monkeypatch):
    """Preemption (SIGUSR2, submitit's signal) → submitit requeues the job, which resumes from last.ckpt; scancel →
    the dispatcher names the run, a second dispatch submits only it, and it resumes; the metrics and per-epoch
    losses equal an uninterrupted run's."""
    from vpr_lib.train.run import train
    root = write_long_study(tmp_path / "kit", epochs=30)
    results = tmp_path / "results"
    env = dict(os.environ, VPR_ROOT=str(root), VPR_RESULTS=str(results), SLURM_CONF=slurm)
    command = [sys.executable, "-m", "vpr_lib.dispatch", "--executor", "slurm", "--profile", "smoke", "--only", "01",
               "--data-root", str(synth_smoke), "--cluster", *TASK]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = wait_for_epochs(results, 3, first)
    job = slurm_job(run_dir)["SLURM_JOB_ID"]
    subprocess.run(["scancel", "--signal=USR2", job], env=env, check=True)  # what SLURM sends before a time limit
    deadline = time.time() + 60
    while time.time() < deadline and subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], env=env,
                                                    capture_output=True, text=True).stdout.strip() != "PENDING":
        time.sleep(0.2)  # submitit requeued it (scontrol requeue): pending again
    # SLURM holds a requeued job for about two minutes before it may start again; the test lets it start now
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env=env, check=True)
    deadline = time.time() + 120
    while slurm_job(run_dir).get("SLURM_RESTART_COUNT") != "1" and time.time() < deadline:
        time.sleep(0.2)
    assert slurm_job(run_dir)["SLURM_JOB_ID"] == job  # requeued: the same job, started again
    log = results / "dispatch" / job / f"{job}_0_log.out"  # one run: a plain job, not an array
    resumed_at = pd.read_csv(run_dir / "epochs.csv").epoch.max()
    wait_for_epochs(results, resumed_at + 2, first)
    assert f"resuming {run_dir.name} from {run_dir.name}/checkpoints/last.ckpt" in log.read_text()

    subprocess.run(["scancel", job], env=env, check=True)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 1, out + err
    assert f"FAILED {run_dir.name} (job {job}): left the queue without a result" in out and "log: " in out
    assert not (run_dir / "metrics.json").exists() and (run_dir / "checkpoints/last.ckpt").exists()

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "submitted 1 run to SLURM (job " in second.stdout  # only what was pending
    resubmitted = slurm_job(run_dir)["SLURM_JOB_ID"]
    assert resubmitted != job
    resumed = (results / "dispatch" / resubmitted / f"{resubmitted}_0_log.out").read_text()
    assert f"resuming {run_dir.name} from {run_dir.name}/checkpoints/last.ckpt" in resumed
    third = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "every run is complete: nothing to submit" in third.stdout

    monkeypatch.setenv("VPR_ROOT", str(root))
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "uninterrupted"))
    reference = train(notebook_runs("01_baseline", "smoke", str(synth_smoke))[0], progress=False)
    assert reference.name == run_dir.name
    got, expected = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, reference))
    assert got["test"] == expected["test"] and got["best_epoch"] == expected["best_epoch"]
    columns = ["epoch", "train_loss", "R@1", "R@5"]
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "epochs.csv")[columns],
                                  pd.read_csv(reference / "epochs.csv")[columns])


def test_local_executor_runs_two_at_a_time_and_names_a_failed_run(synth_smoke, tmp_path, monkeypatch):
    """--executor local --jobs 2 goes through the same submitit path; a task that fails is named with its log and its
    error, and the other goes on."""
    from vpr_lib.dispatch import TrainTask, dispatch, make_executor, watch
    from vpr_lib.paths import data_dir
    from vpr_lib.train.run import run_id
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "results"))
    good = notebook_runs("01_baseline", "smoke", str(synth_smoke))[0]
    bad = dict(good, aggregator_kwargs={"out_dim": "wide"})
    settings = cluster_settings({"poll_seconds": 0.5})
    submitter, task = make_executor("local", settings), TrainTask(str(tmp_path / "results"), str(tmp_path / "results" / "runs"), str(data_dir()))
    lines = []
    failed = watch({}, "local", 0.5, lines.append, [(run_id(good), good), (run_id(bad), bad)],
                   lambda config: submitter.submit(task, config), limit=2)
    assert list(failed) == [run_id(bad)] and "Bad parameters for aggregator" in failed[run_id(bad)]
    assert any(line.startswith(f"[dispatch] FAILED {run_id(bad)}") and "log: " in line for line in lines)
    assert "[dispatch] 0 pending, 2 running, 0 done, 0 failed" in lines
    assert lines[-1] == "[dispatch] 0 pending, 0 running, 1 done, 1 failed"
    assert (tmp_path / "results/runs" / run_id(good) / "metrics.json").is_file()
    assert dispatch("smoke", ["01"], str(synth_smoke), "local", 2, say=lines.append) == {}
    assert lines[-1] == "[dispatch] every run is complete: nothing to submit"


@pytest.mark.parametrize("overrides,message", [
    ({"gpus": 1}, r"Unknown cluster setting\(s\) \['gpus'\] in --cluster; valid: \['additional', 'array_parallelism'"),
    ({"mem_gb": "lots"}, r"Cluster setting mem_gb must be a number, got 'lots'"),
    ({"partition": 3}, r"Cluster setting partition must be a name or null, got 3"),
])
def test_bad_cluster_settings_stop_with_one_message(overrides, message):
    with pytest.raises(VPRInputError, match=message):
        cluster_settings(overrides)


def test_cluster_settings_parse_from_the_command_line():
    assert parse_settings(["partition=gpu", "mem_gb=64", "gpus_per_task=0"]) == {
        "partition": "gpu", "mem_gb": 64, "gpus_per_task": 0}
    assert cluster_settings()["gpus_per_task"] == 1
    assert cluster_settings({"additional": {"account": "lab"}, "setup": ["module load cuda"]})["additional"] == {
        "account": "lab"}
    with pytest.raises(VPRInputError, match="--cluster expects key=value, got 'mem_gb'"):
        parse_settings(["mem_gb"])


def test_slurm_without_its_commands_stops_with_one_message(monkeypatch):
    import vpr_lib.dispatch as dispatch_module
    monkeypatch.setattr(dispatch_module.shutil, "which", lambda name: None)
    with pytest.raises(VPRInputError, match="--executor slurm needs SLURM's commands .* use --executor local"):
        dispatch_module.dispatch("smoke", ["01"], executor="slurm")


def test_a_task_given_gpus_that_sees_none_fails_before_training(synth_smoke, tmp_path, monkeypatch):
    """Else it would train on the CPU inside a GPU allocation (a driver too old for the installed torch)."""
    import torch
    from vpr_lib.dispatch import TrainTask
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    task = TrainTask(str(tmp_path / "results"), str(tmp_path / "results" / "runs"), str(tmp_path / "data"), gpus=1)
    for key, value in task.environment.items():  # the task sets them in its process: restored after the test
        monkeypatch.setenv(key, value)
    with pytest.raises(RuntimeError, match=r"asked for 1 GPU\(s\) but torch .* sees none"):
        task(notebook_runs("01_baseline", "smoke", str(synth_smoke))[0])
    assert not (tmp_path / "results").exists()  # nothing trained or written


class PurgedJob:
    """A submitit job whose SLURM record is gone: its result file, if any, is all that is left."""

    def __init__(self, job_id, folder, result=None):
        self.job_id = job_id
        self.paths = type("Paths", (), {"result_pickle": folder / f"{job_id}_result.pkl",
                                        "stderr": folder / f"{job_id}.err"})()
        if result is not None:
            self.paths.result_pickle.write_text(result)

    def result(self):
        return self.paths.result_pickle.read_text()


def _watch_with_squeue(monkeypatch, tmp_path, stderr, jobs):
    """watch() with squeue answering exit 1 and `stderr`; returns its result, or fails after 20 s (it used to wait
    forever)."""
    import threading

    import vpr_lib.dispatch as dispatch_module
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(dispatch_module.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a[0], 1, stdout="", stderr=stderr))
    answer = {}
    worker = threading.Thread(target=lambda: answer.update(failed=dispatch_module.watch(jobs, "slurm", 0.05,
                                                                                          lambda line: None)),
                              daemon=True)
    worker.start()
    worker.join(20)
    assert "failed" in answer, "the dispatcher still waits"
    return answer["failed"]


def test_jobs_purged_by_slurm_are_read_from_their_result_files_and_runs(tmp_path, monkeypatch):
    """Issue 31, item 13: once SLURM purges finished jobs (MinJobAge, a controller restart) squeue -j exits 1."""
    done = PurgedJob("11_0", tmp_path, result="run-a")
    complete = PurgedJob("11_1", tmp_path)
    (tmp_path / "results/runs/run-b").mkdir(parents=True)
    (tmp_path / "results/runs/run-b/metrics.json").write_text("{}")
    lost = PurgedJob("11_2", tmp_path)
    failed = _watch_with_squeue(monkeypatch, tmp_path, "slurm_load_jobs error: Invalid job id specified",
                                {"run-a": done, "run-b": complete, "run-c": lost})
    assert list(failed) == ["run-c"] and "left the queue without a result" in failed["run-c"]


def test_jobs_with_result_files_are_over_while_squeue_does_not_answer(tmp_path, monkeypatch):
    done = PurgedJob("12_0", tmp_path, result="run-a")
    assert _watch_with_squeue(monkeypatch, tmp_path, "slurm_load_jobs error: Unable to contact slurm controller",
                              {"run-a": done}) == {}


def test_every_pending_runs_parameters_are_checked_before_submission(synth_smoke, tmp_path, monkeypatch):
    """Issue 31, item 14: a bad value in one variant exits 2 before anything is submitted, whichever run it is."""
    from vpr_lib.dispatch import dispatch
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "results"))
    params = tmp_path / "params"
    shutil.copytree(ROOT / "params", params)
    spec = yaml.safe_load((params / "01_baseline.yaml").read_text())
    spec["variants"]["too_few_places"] = {"places_per_batch": 0}  # after a good one: the login node used to build
    spec["profiles"]["smoke"]["variants"] = ["starter", "too_few_places"]  # only the first run before submitting
    (params / "01_baseline.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setattr("vpr_lib.config.params_dir", lambda: params)
    monkeypatch.setattr("vpr_lib.dispatch.params_dir", lambda: params)
    with pytest.raises(VPRInputError, match=r"places_per_batch .*too_few_places.*must be an integer >= 2, got 0"):
        dispatch("smoke", ["01"], str(synth_smoke), "local", 2, say=lambda line: None)
    assert not (tmp_path / "results" / "dispatch").exists()  # nothing submitted
