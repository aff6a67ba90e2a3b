"""The results store: atomic writes (temp file + rename) of tables and figures under results/."""
from __future__ import annotations

import fcntl
import io
import os
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from vpr_lib.errors import VPRInputError
from vpr_lib.paths import repo_root, results_dir


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder, then rename: readers never see a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def set_aside(path: Path) -> Path:
    """Rename a torn or unreadable file to `<name>.torn` (kept for inspection, never read again); returns it."""
    path = Path(path)
    torn = path.with_name(path.name + ".torn")
    os.replace(path, torn)
    return torn


def ensure_writable(folder: Path) -> Path:
    """Create `folder` if needed and check that files can be written in it, or stop saying so."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise VPRInputError(f"Cannot write in the results folder {folder} ({e.strerror or e}); make it writable or "
                            "set VPR_RESULTS to another folder.") from None
    return folder


@contextmanager
def run_lock(run_dir: Path):
    """Exclusive lock on a run folder (run_dir/.lock): a second process asking for the same run waits, then finds
    it complete and reuses it.  The lock is released when the holder exits, even by SIGKILL."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_table(df, name: str) -> Path:
    """results/tables/<name>.csv"""
    return atomic_write_text(results_dir() / "tables" / f"{name}.csv", df.to_csv(index=False))


def save_figure(fig, name: str, dpi: int = 110) -> Path:
    """results/figures/<name>.png"""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(results_dir() / "figures" / f"{name}.png", buf.getvalue())


def git_commit() -> str:
    """HEAD of the repository, with '-dirty' when tracked files other than the study's outputs (results/,
    report/main.pdf) differ from it ('' outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!results", ":!report/main.pdf"], cwd=repo_root(), capture_output=True,
                               text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return ""


SLURM_KEYS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_NODELIST", "SLURM_RESTART_COUNT")


def environment() -> dict:
    """Versions, machine, git commit and, in a SLURM job, its ids: saved with every run."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("torch", "torchvision", "lightning", "pytorch-metric-learning", "faiss-cpu", "numpy", "pandas",
                 "numba", "papermill"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    import torch
    return {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "packages": packages, "git_commit": git_commit(),
            "slurm": {key: os.environ[key] for key in SLURM_KEYS if key in os.environ}}
