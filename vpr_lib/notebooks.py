"""Execute the study's notebooks with papermill: params/<nb>.yaml + profile → results/executed/<nb>.ipynb.

    python -m vpr_lib.notebooks --profile demo [--only 00,01] [--data-root DIR]

Continues past a failing notebook and exits non-zero naming the failures.  SIGTERM stops it like Ctrl-C:
the running notebook's kernel is shut down, not left training on its own.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from vpr_lib.config import PROFILES, load_params
from vpr_lib.errors import VPRInputError
from vpr_lib.paths import repo_root, results_dir


def notebook_paths(only: list[str] | None = None) -> list[Path]:
    """Numbered notebooks in order, optionally filtered by number prefix ('00', '01', …)."""
    paths = sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        unknown = [o for o in only if not any(p.name.startswith(o) for p in paths)]
        if unknown:
            raise VPRInputError(f"No notebook numbered {unknown}; available: {[p.stem for p in paths]}.")
        paths = [p for p in paths if any(p.name.startswith(o) for o in only)]
    return paths


def run_notebook(path: Path, profile: str, data_root: str = "", progress: bool = False) -> Path:
    """Execute one notebook into results/executed/, written atomically; returns the output path."""
    import papermill

    params = load_params(path.stem, profile, {"data_root": data_root} if data_root else None)
    declared = papermill.inspect_notebook(str(path))  # inject only what the parameters cell declares
    # the params file's `variants` are the experiment's definitions, not the notebook's selection (a list of names)
    params = {k: v for k, v in params.items() if k in declared and k != "variants"}
    out = results_dir() / "executed" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{path.stem}.", suffix=".ipynb")
    os.close(fd)
    previous = os.environ.get("VPR_NO_PROGRESS")
    os.environ["VPR_NO_PROGRESS"] = "1"  # the kernel inherits it: no progress bars in executed copies
    try:
        papermill.execute_notebook(str(path), tmp, parameters=params, kernel_name="python3",
                                   cwd=str(path.parent), progress_bar=progress)
    finally:
        if previous is None:
            os.environ.pop("VPR_NO_PROGRESS")
        else:
            os.environ["VPR_NO_PROGRESS"] = previous
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)  # the executed copy is kept, failed cells marked, for reading the error
    return out


def _stop(signum, frame):
    """SIGTERM → KeyboardInterrupt: papermill's context managers then shut the kernel down on the way out."""
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def add_study_arguments(ap: argparse.ArgumentParser) -> None:
    """--profile, --only, --data-root: which notebooks of which profile on which data (shared by the CLIs)."""
    ap.add_argument("--profile", choices=PROFILES, default="demo")
    ap.add_argument("--only", default="", type=lambda text: [o.strip() for o in text.split(",") if o.strip()],
                    help="comma-separated notebook numbers, e.g. 00,01")
    ap.add_argument("--data-root", default="", help="real data (default: SynthCity of the profile)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.notebooks", description=__doc__.splitlines()[0])
    add_study_arguments(ap)
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    try:
        paths = notebook_paths(args.only)
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = []
    for i, path in enumerate(paths, 1):
        start = time.time()
        print(f"[{i}/{len(paths)}] {path.stem} ({args.profile}) …", flush=True)
        try:
            out = run_notebook(path, args.profile, args.data_root)
            print(f"[{i}/{len(paths)}] {path.stem} done in {time.time() - start:.0f} s → {out}", flush=True)
        except KeyboardInterrupt:
            print(f"[{i}/{len(paths)}] {path.stem} stopped after {time.time() - start:.0f} s (its kernel shut down; "
                  "completed runs are kept, the interrupted one resumes next time)", flush=True)
            return 130
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
