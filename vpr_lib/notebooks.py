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
import sys
import tempfile
import time
from pathlib import Path

from vpr_lib.config import add_study_arguments, in_profile, load_params, notebook_paths
from vpr_lib.dispatch import add_dispatch_arguments, dispatch, parse_settings
from vpr_lib.errors import VPRInputError
from vpr_lib.paths import results_dir
from vpr_lib.process import exit_code, stoppable


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


def run_notebook(path: Path, profile: str, data_root: str = "", progress: bool = False) -> Path:
    """Execute one notebook into results/executed/, written atomically; returns the output path."""
    import papermill
    from traitlets.config import Config

    load_params(path.stem, profile)  # a bad params file stops here, before a kernel starts
    # every notebook declares profile, data_root and overrides, and resolves its params itself, once
    params = {"profile": profile, **({"data_root": data_root} if data_root else {})}
    out = results_dir() / "executed" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{path.stem}.", suffix=".ipynb")
    os.close(fd)
    previous = os.environ.get("VPR_NO_PROGRESS")
    os.environ["VPR_NO_PROGRESS"] = "1"  # the kernel inherits it: no progress bars in executed copies
    try:
        # the kernel's messages encrypted (CurveZMQ keys from jupyter_client) where the kernel supports it: else
        # ipykernel >= 7.3 warns at every start that it runs over TCP without encryption
        config = Config({"KernelManager": {"transport_encryption": "auto"},
                         "LoggedKernelManager": {"stderr_path": str(kernel_log(path.stem))}})
        papermill.execute_notebook(str(path), tmp, parameters=params, kernel_name="python3",
                                   cwd=str(path.parent), progress_bar=progress, config=config,
                                   kernel_manager_class=_logged_kernel_manager())
    finally:
        if previous is None:
            os.environ.pop("VPR_NO_PROGRESS")
        else:
            os.environ["VPR_NO_PROGRESS"] = previous
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)  # the executed copy is kept, failed cells marked, for reading the error
    return out


def remove_outputs(name: str) -> int:
    """Remove a notebook's tables, figures (named after its number: `03_…`) and executed copy, written by an earlier
    run: before it runs again (a table of a variant it no longer compares is not left behind) or when this profile
    leaves it out, so that the report holds only what this run wrote. Its runs stay in results/runs/ and are
    reused. Returns how many files."""
    results, number = results_dir(), name[:2]
    paths = [*(results / "tables").glob(f"{number}_*"), *(results / "figures").glob(f"{number}_*"),
             results / "executed" / f"{name}.ipynb"]
    removed = [p for p in paths if p.is_file()]
    for p in removed:
        p.unlink()
    return len(removed)


@stoppable  # SIGTERM and SIGINT unwind as KeyboardInterrupt: papermill's context managers shut the kernel down
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
            remove_outputs(path.stem)  # what it writes now, nothing older
            out = run_notebook(path, args.profile, args.data_root)
            print(f"[{i}/{len(paths)}] {path.stem} done in {time.time() - start:.0f} s → {out}", flush=True)
        except KeyboardInterrupt as stop:
            print(f"[{i}/{len(paths)}] {path.stem} stopped after {time.time() - start:.0f} s (its kernel shut down; "
                  "completed runs are kept, the interrupted one resumes next time)", flush=True)
            return exit_code(stop)
        except Exception as e:  # noqa: BLE001 - report and continue with the next notebook
            failed.append(path.stem)
            print(f"[{i}/{len(paths)}] {path.stem} FAILED after {time.time() - start:.0f} s: "
                  f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}", flush=True)
    if failed:
        print(f"failed notebooks: {', '.join(failed)} (executed copies with the error in "
              f"{results_dir() / 'executed'})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
