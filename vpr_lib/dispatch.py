"""Train a study's pending runs as jobs before its notebooks execute: a SLURM job array, or N processes on this
machine, both through submitit.  The notebooks then find every run complete and only build tables and figures.

    python -m vpr_lib.dispatch --executor slurm --profile full --data-root DIR [--only 04,07] [--cluster mem_gb=64]
    python -m vpr_lib.dispatch --executor local --jobs 2 --profile smoke

Each pending run (the run ids the notebooks would train, a run shared by notebooks once) is one task.  A failed task
is reported with its run id and log, and the others go on.  A task that times out or is preempted is requeued by
submitit and resumes from its run's last.ckpt; a killed one is resubmitted by the next dispatch, which submits only
what is still pending.  Resources come from params/cluster.yaml, overridden by --cluster key=value.

vpr_lib.train, .models and .data are imported inside the functions that use them: vpr_lib.notebooks imports this
module, and its runner must not load torch and Lightning unless it dispatches.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from vpr_lib.config import add_study_arguments, notebook_paths, notebook_runs
from vpr_lib.errors import VPRInputError
from vpr_lib.paths import data_dir, params_dir, results_dir, runs_dir
from vpr_lib.runs import Run
from vpr_lib.process import exit_code, stoppable

EXECUTORS = ("local", "slurm")
CLUSTER_TYPES = {"partition": (str, type(None)), "gpus_per_task": int, "cpus_per_task": int, "mem_gb": (int, float),
                 "timeout_min": int, "max_requeues": int, "array_parallelism": int, "additional": dict,
                 "setup": list, "logs": str, "poll_seconds": (int, float)}

CLUSTER_WORDS = {key: {(str, type(None)): "a name or null", int: "an integer", (int, float): "a number",
                       str: "a folder name", dict: "a mapping of sbatch options",
                       list: "a list of shell lines"}[kind] for key, kind in CLUSTER_TYPES.items()}


def cluster_settings(overrides: dict | None = None, path: Path | None = None) -> dict:
    """params/cluster.yaml with overrides applied; an unknown key or a value of the wrong type stops here."""
    path = path or params_dir() / "cluster.yaml"
    settings = yaml.safe_load(path.read_text()) or {}
    for where, values in ((str(path), settings), ("--cluster", overrides or {})):
        unknown = sorted(set(values) - set(CLUSTER_TYPES))
        if unknown:
            raise VPRInputError(f"Unknown cluster setting(s) {unknown} in {where}; valid: {sorted(CLUSTER_TYPES)}.")
    settings.update(overrides or {})
    for key, kind in CLUSTER_TYPES.items():
        value = settings.get(key)
        if key not in settings or isinstance(value, bool) or not isinstance(value, kind):
            raise VPRInputError(f"Cluster setting {key} must be {CLUSTER_WORDS[key]}, got {value!r} ({path} or "
                                "--cluster).")
    return settings


def pending_runs(profile: str, only=None, data_root: str = "") -> list[dict]:
    """The configs of the selected notebooks' runs that are not complete, each run id once, in notebook order."""
    from vpr_lib.train.run import run_of
    from vpr_lib.train.checks import validate
    pending = {}
    for path in notebook_paths(only):
        for config in notebook_runs(path.stem, profile, data_root):
            validate(config)
            run = run_of(config)
            if run.id not in pending and not run.is_complete():
                pending[run.id] = config
    return list(pending.values())


class TrainTask:
    """One run in a job: trains it (or resumes it from last.ckpt) into the results store the dispatcher uses."""

    def __init__(self, results: str, runs: str, data: str, gpus: int = 0):
        self.environment = {"VPR_RESULTS": results, "VPR_RUNS": runs, "VPR_DATA": data, "VPR_NO_PROGRESS": "1"}
        self.gpus = gpus

    def __call__(self, config: dict) -> str:
        os.environ.update(self.environment)  # the dispatcher's stores, whatever environment the job starts with
        import torch
        if self.gpus and not torch.cuda.is_available():  # else it would train on the CPU inside a GPU allocation
            raise RuntimeError(f"the task asked for {self.gpus} GPU(s) but torch {torch.__version__} sees none on "
                               f"{os.uname().nodename}: check the driver and the CUDA build of torch (srun "
                               f"--gpus=1 python -c 'import torch; print(torch.cuda.is_available())').")
        from vpr_lib.train.run import train
        return train(config, progress=False).name

    def checkpoint(self, config: dict):
        """Called by submitit on a timeout or preemption: requeue the same run, which resumes from last.ckpt."""
        import submitit
        return submitit.helpers.DelayedSubmission(self, config)


def make_executor(kind: str, settings: dict):
    """A submitit executor writing its logs under the results store (settings['logs'])."""
    import submitit
    if kind == "local":
        executor = submitit.LocalExecutor(folder=results_dir() / settings["logs"] / "local")
        executor.update_parameters(timeout_min=settings["timeout_min"])
        return executor
    executor = submitit.AutoExecutor(folder=results_dir() / settings["logs"] / "%j", cluster="slurm",
                                     slurm_max_num_timeout=settings["max_requeues"])
    resources = dict(timeout_min=settings["timeout_min"], cpus_per_task=settings["cpus_per_task"],
                     mem_gb=settings["mem_gb"], tasks_per_node=1, nodes=1, name="vpr",
                     slurm_array_parallelism=settings["array_parallelism"])
    if settings["gpus_per_task"]:
        resources["gpus_per_node"] = settings["gpus_per_task"]
    if settings["partition"]:
        resources["slurm_partition"] = settings["partition"]
    if settings["additional"]:  # e.g. {account: mylab, qos: normal, constraint: a100}
        resources["slurm_additional_parameters"] = settings["additional"]
    if settings["setup"]:  # e.g. ["module load cuda/12.4"]: run in each task's script before Python
        resources["slurm_setup"] = settings["setup"]
    executor.update_parameters(**resources)
    return executor


LEFT_QUEUE_GRACE_S = 10  # seconds a job may be missing from squeue before it counts as gone


def _slurm_states(jobs) -> dict | None:
    """{job id: SLURM state} of the jobs still queued or running (squeue, which needs no accounting database);
    None when squeue did not answer. Jobs SLURM has purged (MinJobAge, a controller restart) are no longer queued:
    squeue then exits 1 with 'Invalid job id specified', which is an answer."""
    arrays = sorted({job.job_id.split("_")[0] for job in jobs})
    if not arrays:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(arrays)], capture_output=True,
                             text=True, timeout=60)
    except (subprocess.TimeoutExpired, OSError):
        return None
    if out.returncode != 0:
        return {} if "Invalid job id" in out.stderr else None  # else a busy controller: no answer is not "no job"
    return dict(line.split()[:2] for line in out.stdout.splitlines() if len(line.split()) >= 2)


def _failure(job) -> str:
    """The last line of a failed job's error, if it left one."""
    try:
        job.result()
    except Exception as error:  # noqa: BLE001 - submitit wraps the task's exception with its traceback
        parts = str(error).split("-" * 22)  # submitit: "… with trace:\n-----\n<traceback>\n-----\nYou can check …"
        lines = [line for line in (parts[1] if len(parts) > 2 else str(error)).strip().splitlines() if line.strip()]
        return lines[-1] if lines else type(error).__name__
    return ""


def watch(jobs: dict, kind: str, poll: float, say=print, waiting: list | None = None, start=None,
          limit: int = 0) -> dict:
    """Wait for every job ({run id: submitit job}), starting the `waiting` (run id, config) pairs with `start` while
    fewer than `limit` run (local); print pending / running / done / failed when it changes.  Returns {run id: error}
    of the failed ones.  A job is over when its result file exists, or (SLURM) when it has left the queue without
    one (cancelled, killed, out of memory): squeue is the source of truth, as a cluster may keep no accounting.
    While squeue does not answer, the result files still say which jobs are over."""
    left, waiting, failed, shown, gone = dict(jobs), list(waiting or []), {}, None, {}
    runs = {run_id: Run(run_id) for run_id in [*jobs, *(r for r, _ in waiting or [])]}
    total, running = len(jobs) + len(waiting), 0
    while left or waiting:
        queued = _slurm_states(left.values()) if kind == "slurm" else {}
        for run_id, job in list(left.items()):
            if queued and job.job_id in queued:
                gone.pop(run_id, None)
            over = job.paths.result_pickle.exists() if kind == "slurm" else job.done()
            if over:
                error = _failure(job)
            elif kind == "slurm" and queued is not None and job.job_id not in queued:
                # left the queue: over after a grace period (a job SLURM requeues may drop out of squeue for a
                # moment under load: a whole-suite run once saw a requeued job called failed)
                over = gone.setdefault(run_id, time.time()) < time.time() - max(2 * poll, LEFT_QUEUE_GRACE_S)
                error = "" if runs[run_id].is_complete() else (  # its result file may not be visible yet (NFS)
                    "left the queue without a result (cancelled, killed, timed out or out of memory)")
            if over:
                del left[run_id]
                if error:
                    failed[run_id] = error
                    say(f"[dispatch] FAILED {run_id} (job {job.job_id}): {error}\n           log: {job.paths.stderr}")
        while waiting and len(left) < limit:
            run_id, config = waiting.pop(0)
            left[run_id] = start(config)
        if queued is not None:  # else (squeue did not answer) the count of the last answer
            running = (sum(queued.get(job.job_id) in ("RUNNING", "COMPLETING") for job in left.values())
                       if kind == "slurm" else len(left))
        running = min(running, len(left))
        counts = (len(waiting) + len(left) - running, running, total - len(waiting) - len(left) - len(failed),
                  len(failed))
        if counts != shown:
            say("[dispatch] {} pending, {} running, {} done, {} failed".format(*counts))
            shown = counts
        if left or waiting:
            time.sleep(poll)
    return failed


def dispatch(profile: str, only=None, data_root: str = "", executor: str = "slurm", jobs: int = 1,
             cluster: dict | None = None, say=print) -> dict:
    """Train the pending runs of the selected notebooks; returns {run id: error} of the failed ones."""
    from vpr_lib.data.roots import resolve_data_root
    if executor not in EXECUTORS:
        raise VPRInputError(f"Unknown executor {executor!r}; expected one of {list(EXECUTORS)}.")
    if jobs < 1:
        raise VPRInputError(f"--jobs must be a positive number of runs at once, got {jobs}.")
    if executor == "slurm" and not shutil.which("sbatch"):
        raise VPRInputError("--executor slurm needs SLURM's commands (sbatch, squeue) on the PATH of this machine, "
                            "a login node of the cluster; sbatch was not found. On one machine, use --executor local.")
    settings = cluster_settings(cluster)
    configs = pending_runs(profile, only, data_root)
    if not configs:
        say("[dispatch] every run is complete: nothing to submit")
        return {}
    for root in {(c["data_root"], c["profile"]) for c in configs}:  # SynthCity is generated here, not by each task
        resolve_data_root(*root)
    from vpr_lib.models import VPRModel
    for config in {(c["backbone"], str(c["pretrained"])): c for c in configs}.values():
        VPRModel.from_config(config)  # ImageNet weights are fetched here into TORCH_HOME: compute nodes may be offline
    from vpr_lib.train.run import run_of
    run_ids = [run_of(c).id for c in configs]
    task = TrainTask(str(results_dir()), str(runs_dir()), str(data_dir()),
                     settings["gpus_per_task"] if executor == "slurm" else 0)
    submitter = make_executor(executor, settings)
    logs = results_dir() / settings["logs"]
    if executor == "slurm":
        try:
            submitted = submitter.map_array(task, configs)
        except (subprocess.CalledProcessError, RuntimeError) as e:  # sbatch refused: a partition, account, limit…
            detail = getattr(e, "output", None) or getattr(e, "stderr", None) or e
            raise VPRInputError(f"sbatch refused the job array: {str(detail).strip()[-500:]} "
                                f"(resources: params/cluster.yaml or --cluster).") from None
        array = submitted[0].job_id.split("_")[0]
        say(f"[dispatch] submitted {len(configs)} run{'s' if len(configs) > 1 else ''} to SLURM "
            f"(job{' array' if len(configs) > 1 else ''} {array}; logs: {logs}/{array}{'_<task>' if len(configs) > 1 else ''}/)")
        return watch(dict(zip(run_ids, submitted)), executor, settings["poll_seconds"], say)
    say(f"[dispatch] {len(configs)} runs, {jobs} at a time on this machine (logs: {logs}/local/)")
    started = {}
    def start(config):
        started[len(started)] = job = submitter.submit(task, config)
        return job
    try:
        return watch({}, executor, settings["poll_seconds"], say, list(zip(run_ids, configs)), start, jobs)
    except KeyboardInterrupt:  # local processes stop with the dispatcher (their runs resume next time)
        for job in started.values():
            job.cancel(check=False)
        raise


def parse_settings(pairs: list[str]) -> dict:
    """key=value pairs, values read as YAML (--cluster mem_gb=64 partition=gpu)."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise VPRInputError(f"--cluster expects key=value, got {pair!r}.")
        settings[key.strip()] = yaml.safe_load(value)
    return settings


def add_dispatch_arguments(ap: argparse.ArgumentParser) -> None:
    """--executor, --jobs, --cluster (shared with vpr_lib.notebooks)."""
    ap.add_argument("--executor", choices=EXECUTORS, default=None,
                    help="train the pending runs as jobs first (default: the notebooks train them one by one)")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once with --executor local")
    ap.add_argument("--cluster", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                    help="overrides of params/cluster.yaml, e.g. partition=gpu mem_gb=64")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.dispatch", description=__doc__.splitlines()[0])
    add_study_arguments(ap)
    add_dispatch_arguments(ap)
    args = ap.parse_args(argv)
    try:
        failed = dispatch(args.profile, args.only, args.data_root, args.executor or "slurm", args.jobs,
                          parse_settings(args.cluster))
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        print("[dispatch] stopped: SLURM jobs already submitted go on (scancel stops them); completed runs are kept, "
              "and the next dispatch submits only what is pending", file=sys.stderr)
        return exit_code(stop)
    if failed:
        print(f"[dispatch] {len(failed)} run(s) failed: {', '.join(failed)}; the others are complete. Dispatch again "
              "to resubmit what is pending (an interrupted run resumes from its last checkpoint).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(stoppable(main)())
