"""The results store: atomic writes (temp file + rename) of tables and figures under results/, torn files set
aside, and the locks that serialise a run and the swap of a notebook's outputs."""
from __future__ import annotations

import fcntl
import io
import os
import pickle
import shutil
import subprocess
import tempfile
import zipfile
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def writer_pid(name: str) -> int | None:
    """The pid in a temporary name this module made (`.<file>.<pid>.<random>.tmp`, a staging `<name>.<pid>`)."""
    parts = name.rsplit(".", 3 if name.endswith(".tmp") else 1)
    field = parts[-3] if name.endswith(".tmp") and len(parts) == 4 else parts[-1]
    return int(field) if field.isdigit() else None


def remove_stale(folder: Path, pattern: str = ".*.tmp") -> list[Path]:
    """Remove the temporary files (or folders) under `folder` matching `pattern` whose writer is dead (a killed
    process never renames them); returns what was removed."""
    removed = []
    for path in Path(folder).glob(pattern) if Path(folder).is_dir() else []:
        pid = writer_pid(path.name)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# What torch.load raises for a file cut short or overwritten (not for a file it cannot open, or a newer format)
TORN = (EOFError, pickle.UnpicklingError, zipfile.BadZipFile)
TORN_MESSAGES = ("PytorchStreamReader failed", "failed finding central directory", "invalid header",
                 "file might be corrupted", "unexpected EOF")


def is_torn(error: BaseException) -> bool:
    """Whether a load error says the file is torn (truncated or overwritten), not unreadable for another reason."""
    return isinstance(error, TORN) or (isinstance(error, RuntimeError)
                                       and any(m in str(error) for m in TORN_MESSAGES))


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
def file_lock(path: Path):
    """Exclusive lock on `path` (created if needed), released when the holder exits, even by SIGKILL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def outputs_lock():
    """Exclusive lock on the store's tables, figures and executed copies (results/.outputs.lock): a notebook's
    outputs are swapped in, and the report reads them, one process at a time."""
    return file_lock(results_dir() / ".outputs.lock")


def outputs_dir() -> Path:
    """Where tables and figures are written: the results store, or, while vpr_lib.notebooks executes a notebook, its
    staging folder (VPR_OUTPUTS), swapped into the store only when the whole notebook succeeded."""
    return Path(os.environ.get("VPR_OUTPUTS") or results_dir())


def save_table(df, name: str) -> Path:
    """tables/<name>.csv (outputs_dir)"""
    return atomic_write_text(outputs_dir() / "tables" / f"{name}.csv", df.to_csv(index=False))


def save_figure(fig, name: str, dpi: int = 110) -> Path:
    """figures/<name>.png (outputs_dir)"""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(outputs_dir() / "figures" / f"{name}.png", buf.getvalue())


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
