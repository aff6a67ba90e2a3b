"""An executed notebook made fit for git: what changes without meaning is taken out, so that a re-run on the same
machine changes only what it should (outputs, figures, generated Markdown).

- papermill's timing and paths (start and end times, durations, the input and output paths, the environment) in
  the notebook's and every cell's metadata, and nbclient's per-cell execution timestamps;
- this machine's folders in the outputs (the results store, the runs, the data, the kit, the home folder) written
  as `<results>`, `<runs>`, `<data>`, `<kit>` and `~`; the staging folder as the store its outputs went to;
- the id papermill draws for the cell it injects.
The parameters papermill injected stay (the notebook's own record of how it ran).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from vpr_lib.paths import data_dir, repo_root, results_dir, runs_dir

KEPT_PAPERMILL = ("parameters", "default_parameters")


def _placeholders(stage: Path | None = None) -> list[tuple[str, str]]:
    """(folder, placeholder), the longest folder first: the results store lies inside the kit, and the notebook's
    staging folder (where its outputs were written before they were published) inside the store."""
    folders = {str(runs_dir()): "<runs>", str(results_dir()): "<results>", str(data_dir()): "<data>",
               str(repo_root()): "<kit>", str(Path.home()): "~"}
    if stage is not None:
        folders[str(stage)] = "<results>"
    return sorted(((f, p) for f, p in folders.items() if len(f) > 1), key=lambda fp: -len(fp[0]))


def _replace(value, pairs):
    if isinstance(value, str):
        for folder, placeholder in pairs:
            value = value.replace(folder, placeholder)
        return value
    if isinstance(value, list):
        return [_replace(v, pairs) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, pairs) for k, v in value.items()}
    return value


def tidy_executed(path: Path, stage: Path | None = None) -> None:
    """Rewrite an executed notebook in place (a temporary file, then a rename) without its timing and folders;
    `stage`: the staging folder its outputs were written to, shown as the store they were published to."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    papermill = nb.get("metadata", {}).get("papermill")
    if isinstance(papermill, dict):
        nb["metadata"]["papermill"] = {k: v for k, v in papermill.items() if k in KEPT_PAPERMILL}
    pairs = _placeholders(stage)
    for cell in nb.get("cells", []):
        for key in ("papermill", "execution"):
            cell.get("metadata", {}).pop(key, None)
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"  # papermill draws a new id at every run
        if "outputs" in cell:
            cell["outputs"] = _replace(cell["outputs"], pairs)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
