"""Execute the study's notebooks with papermill: params/<nb>.yaml + profile → results/executed/<nb>.ipynb.

    python -m vpr_lib.notebooks --profile demo [--only 00,01] [--data-root DIR] [--executor slurm|local --jobs N]

With --executor (or --jobs N > 1), the selected notebooks' pending runs first train as jobs (vpr_lib.dispatch: a
SLURM job array, or N processes here); the notebooks then find them complete.

Continues past a failing notebook and exits non-zero naming the failures.  SIGTERM stops it like Ctrl-C (exit
143 and 130): the running notebook's kernel is shut down, not left training on its own; it also stops when its
parent (run_all.sh) dies.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from vpr_lib.config import add_study_arguments, in_profile, load_params, missing_outputs, notebook_paths
from vpr_lib.dispatch import add_dispatch_arguments, dispatch, parse_settings
from vpr_lib.errors import VPRInputError
from vpr_lib.executed import tidy_executed
from vpr_lib.paths import results_dir
from vpr_lib.process import exit_code, signals_held, stoppable
from vpr_lib.results import outputs_lock, remove_stale


def kernel_log(name: str) -> Path:
    """Where the kernel process of a notebook writes its own stderr (the cells' output goes into the notebook)."""
    return results_dir() / "logs" / "kernels" / f"{name}.log"


def _logged_kernel_manager():
    """jupyter_client's kernel manager with the kernel process's stderr in a file (LoggedKernelManager.stderr_path):
    a kernel shut down mid-cell by a stop prints a zmq traceback there, not on the terminal."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Unicode

    class LoggedKernelManager(AsyncKernelManager):
        stderr_path = Unicode("", config=True)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            if self.stderr_path:
                Path(self.stderr_path).parent.mkdir(parents=True, exist_ok=True)
                with open(self.stderr_path, "w") as log:
                    return await super()._async_launch_kernel(kernel_cmd, **kw, stderr=log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)
    return LoggedKernelManager


def staging_dir() -> Path:
    """This machine's staging folders (results/.staging/<host>/): a store shared by several machines never has one
    machine judge another's runner dead by its pid."""
    return results_dir() / ".staging" / socket.gethostname()


def failed_dir() -> Path:
    """Where the executed copies of notebooks that failed are kept, errors marked (outside the committed outputs)."""
    return results_dir() / "logs" / "failed"


def failed_copy(name: str) -> Path:
    return failed_dir() / f"{name}.ipynb"


def run_notebook(path: Path, profile: str, data_root: str = "", progress: bool = False) -> Path:
    """Execute one notebook into a staging folder, then swap its tables, figures and executed copy into the store
    (publish); returns the executed copy's path. A notebook that fails (or is stopped) leaves the store's earlier
    outputs as they were: its executed copy, error marked, goes to failed_copy(name)."""
    import papermill
    from traitlets.config import Config

    load_params(path.stem, profile)  # a bad params file stops here, before a kernel starts
    # every notebook declares profile, data_root and overrides, and resolves its params itself, once
    params = {"profile": profile, **({"data_root": data_root} if data_root else {})}
    stage = staging_dir() / f"{path.stem}.{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    executed = stage / "executed" / path.name
    executed.parent.mkdir(parents=True)
    # the kernel inherits these: no progress bars in executed copies; tables and figures into the staging folder
    changes = {"VPR_NO_PROGRESS": "1", "VPR_OUTPUTS": str(stage)}
    previous = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        # the kernel's messages encrypted (CurveZMQ keys from jupyter_client) where the kernel supports it: else
        # ipykernel >= 7.3 warns at every start that it runs over TCP without encryption
        config = Config({"KernelManager": {"transport_encryption": "auto"},
                         "LoggedKernelManager": {"stderr_path": str(kernel_log(path.stem))}})
        try:
            papermill.execute_notebook(str(path), str(executed), parameters=params, kernel_name="python3",
                                       cwd=str(path.parent), progress_bar=progress, config=config,
                                       kernel_manager_class=_logged_kernel_manager())
        except Exception:
            if executed.is_file():  # for reading the error
                failed_copy(path.stem).parent.mkdir(parents=True, exist_ok=True)
                os.replace(executed, failed_copy(path.stem))
            raise
        tidy_executed(executed, stage)  # no timing or machine paths: the copy in git changes only with the results
        missing = missing_outputs(path.stem, profile, stage)
        if missing:  # the report would lack them: the notebook fails, and the store keeps its earlier outputs
            failed_copy(path.stem).parent.mkdir(parents=True, exist_ok=True)
            os.replace(executed, failed_copy(path.stem))
            raise VPRInputError(f"Notebook {path.stem} ran but did not write {', '.join(missing)}, which "
                                f"params/{path.stem}.yaml declares for the report (vpr_lib.config.declared_outputs); "
                                f"the store's earlier outputs are kept.")
        return publish(path.stem, stage)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(stage, ignore_errors=True)


def _outputs(results: Path, name: str) -> list[Path]:
    """A notebook's tables and figures (named after its number: `03_…`) and executed copy in `results`."""
    number = name[:2]
    return [p for p in [*(results / "tables").glob(f"{number}_*"), *(results / "figures").glob(f"{number}_*"),
                        results / "executed" / f"{name}.ipynb"] if p.is_file()]


def publish(name: str, stage: Path) -> Path:
    """Swap a notebook's staged outputs into the store, under the outputs lock (the report reads under it too): the
    new files replace the old ones, then the old ones it no longer writes (a variant it no longer compares) go."""
    results = results_dir()
    with outputs_lock(), signals_held():  # a stop waits for the swap: never half old, half new
        new = sorted(p for kind in ("tables", "figures", "executed") for p in (stage / kind).glob("*") if p.is_file())
        for path in new:
            target = results / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o644)
            os.replace(path, target)
        kept = {results / p.relative_to(stage) for p in new}
        for path in _outputs(results, name):
            if path not in kept:
                path.unlink()
        failed_copy(name).unlink(missing_ok=True)
    return results / "executed" / f"{name}.ipynb"


def remove_outputs(name: str) -> int:
    """Remove a notebook's tables, figures and executed copy, written by an earlier run, when this profile leaves it
    out, so that the report holds only what this run wrote. Its runs stay in results/runs/ and are reused. Returns
    how many files."""
    with outputs_lock():
        removed = _outputs(results_dir(), name)
        for p in removed:
            p.unlink()
    return len(removed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.notebooks", description=__doc__.splitlines()[0])
    add_study_arguments(ap)
    add_dispatch_arguments(ap)
    args = ap.parse_args(argv)
    try:
        paths = notebook_paths(args.only)
        executor = args.executor or ("local" if args.jobs > 1 else None)
        if executor:  # the runs train as jobs first; the notebooks then reuse them
            failed = dispatch(args.profile, args.only, args.data_root, executor, args.jobs,
                              parse_settings(args.cluster))
            if failed:
                print(f"{len(failed)} run(s) failed ({', '.join(failed)}): the notebooks are not executed, as they "
                      "would train those runs here. Fix the cause (see the logs) and run the same command again: it "
                      "submits only what is pending.", file=sys.stderr)
                return 1
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        print("stopped while dispatching (SLURM jobs already submitted go on; completed runs are kept)", flush=True)
        return exit_code(stop)
    failed = []
    remove_stale(staging_dir(), "*.*")  # the staging folders of this machine's runners killed with -9
    for i, path in enumerate(paths, 1):
        if not in_profile(path.stem, args.profile):
            removed = remove_outputs(path.stem)
            print(f"[{i}/{len(paths)}] {path.stem}: not in the {args.profile} profile (params/{path.stem}.yaml lists no "
                  f"variant for it; --profile study runs it)" + (f"; removed its outputs of an earlier run "
                  f"({removed} files; its runs are kept)" if removed else ""), flush=True)
            continue
        start = time.time()
        print(f"[{i}/{len(paths)}] {path.stem} ({args.profile}) …", flush=True)
        try:
            out = run_notebook(path, args.profile, args.data_root)
            print(f"[{i}/{len(paths)}] {path.stem} done in {time.time() - start:.0f} s → {out}", flush=True)
        except KeyboardInterrupt as stop:
            print(f"[{i}/{len(paths)}] {path.stem} stopped after {time.time() - start:.0f} s (its kernel shut down; "
                  "completed runs are kept, the interrupted one resumes next time)", flush=True)
            return exit_code(stop)
        except Exception as e:  # noqa: BLE001 - report and continue with the next notebook
            failed.append(path.stem)
            print(f"[{i}/{len(paths)}] {path.stem} FAILED after {time.time() - start:.0f} s: "
                  f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''} (its earlier "
                  "tables, figures and executed copy are kept)", flush=True)
    if failed:
        print(f"failed notebooks: {', '.join(failed)} (executed copies with the error in "
              f"{failed_dir()}; the earlier outputs of each are kept)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(stoppable(main)())  # a stop exits 130 (INT) or 143 (TERM); the step dies with run_all.sh
