"""The results store: atomic writes (temp file + rename) of tables and figures under results/."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from vpr_lib.paths import results_dir


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder, then rename: readers never see a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


def save_table(df, name: str) -> Path:
    """results/tables/<name>.csv"""
    return atomic_write_text(results_dir() / "tables" / f"{name}.csv", df.to_csv(index=False))


def save_figure(fig, name: str, dpi: int = 110) -> Path:
    """results/figures/<name>.png"""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(results_dir() / "figures" / f"{name}.png", buf.getvalue())
