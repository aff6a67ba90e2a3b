"""Issue 31, items 6, 7, 12: outputs are replaced only on success (a notebook's tables, figures and executed copy,
the PDF, checkpoints), a torn checkpoint is set aside instead of blocking every later run, and the temporary files
of killed processes are cleaned."""
import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import tiny_notebook
from vpr_lib.config import load_params, run_configs
from vpr_lib.errors import VPRInputError
from vpr_lib.results import outputs_lock

ROOT = Path(__file__).resolve().parents[1]
HAVE_TEX = shutil.which("latexmk")

WRITES_THEN_MAYBE_FAILS = """import os
import matplotlib.pyplot as plt
import pandas as pd
from vpr_lib.results import save_figure, save_table
save_table(pd.DataFrame({"tag": [os.environ["RUN_TAG"]]}), "01_step_summary")
save_figure(plt.figure(), "01_step_curves")
assert os.environ.get("FAIL") != "1", "broken on purpose"
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project of one notebook, 01_step, that writes a table and a figure, then fails when FAIL=1."""
    tiny_notebook(tmp_path, "01_step", WRITES_THEN_MAYBE_FAILS)
    monkeypatch.setenv("VPR_ROOT", str(tmp_path))
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_a_failing_notebook_leaves_its_earlier_outputs_in_place(project, monkeypatch, capsys):
    from vpr_lib.notebooks import failed_copy, main
    monkeypatch.setenv("RUN_TAG", "first")
    assert main(["--profile", "smoke"]) == 0
    table, figure = project / "tables" / "01_step_summary.csv", project / "figures" / "01_step_curves.png"
    executed = project / "executed" / "01_step.ipynb"
    before = {p: p.read_bytes() for p in (table, figure, executed)}
    monkeypatch.setenv("RUN_TAG", "second")
    monkeypatch.setenv("FAIL", "1")
    assert main(["--profile", "smoke"]) == 1
    assert "earlier tables, figures and executed copy are kept" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in before} == before  # the table still says "first"
    assert "broken on purpose" in failed_copy("01_step").read_text()
    assert not [p for p in (project / ".staging").rglob("*") if p.is_file()]
    monkeypatch.setenv("FAIL", "0")
    assert main(["--profile", "smoke"]) == 0  # a success replaces them, and the failed copy goes
    assert pd.read_csv(table).tag.tolist() == ["second"] and not failed_copy("01_step").exists()


def test_a_notebooks_outputs_wait_while_the_report_reads(project, monkeypatch):
    """The report holds the outputs lock: a notebook finishing meanwhile swaps its tables in only afterwards."""
    from vpr_lib.notebooks import run_notebook
    monkeypatch.setenv("RUN_TAG", "first")
    finished = threading.Event()
    notebook = project.parent / "notebooks" / "01_step.ipynb"
    with outputs_lock():
        worker = threading.Thread(target=lambda: (run_notebook(notebook, "smoke"), finished.set()))
        worker.start()
        staged = project / ".staging"
        deadline = time.time() + 120
        while not list(staged.glob("*/*/tables/01_step_summary.csv")) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        assert not finished.is_set() and not (project / "tables" / "01_step_summary.csv").exists()
    worker.join(120)
    assert finished.is_set() and (project / "tables" / "01_step_summary.csv").is_file()


@pytest.mark.skipif(not HAVE_TEX and not os.environ.get("VPR_REQUIRE_TEX"), reason="needs TeX (CI installs it)")
def test_a_latex_failure_keeps_the_previous_pdf(tmp_path):
    from vpr_lib.report.build import build_pdf
    report = tmp_path / "report"
    report.mkdir()
    (report / "main.tex").write_text("\\documentclass{article}\\begin{document}Hello\\end{document}\n")
    first = build_pdf(report).read_bytes()
    # the error comes after a first page is shipped out: pdflatex has opened main.pdf for writing by then
    (report / "main.tex").write_text("\\documentclass{article}\\begin{document}Hello\\newpage World\\newpage "
                                     "\\undefinedcommand\\end{document}\n")
    with pytest.raises(RuntimeError, match="latexmk failed"):
        build_pdf(report)
    assert (report / "main.pdf").read_bytes() == first


def smoke_config(root, **changes):
    return run_configs(load_params("01_baseline", "smoke", {"data_root": str(root), **changes}))[0]


def test_a_torn_last_checkpoint_is_set_aside_and_the_run_starts_over(synth_smoke, tmp_path, monkeypatch, capsys):
    """A torn last.ckpt made every rerun fail with 'PytorchStreamReader failed…', without naming the file."""
    from vpr_lib.train.run import run_of, train
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "reference"))
    reference = json.loads((train(smoke_config(synth_smoke), progress=False) / "metrics.json").read_text())
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "torn"))
    run_dir = run_of(smoke_config(synth_smoke)).dir
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 cut short by a full disk")
    (run_dir / "checkpoints" / f".best.ckpt.{2 ** 22 + 1}.abcd.tmp").write_bytes(b"left by a killed process")
    got = json.loads((train(smoke_config(synth_smoke), progress=False) / "metrics.json").read_text())
    out = capsys.readouterr().out
    assert "last.ckpt is torn" in out and "starts over" in out and "left by a killed process" in out
    assert (run_dir / "checkpoints" / "last.ckpt.torn").is_file()
    assert not list(run_dir.rglob(".*.tmp"))
    assert got["test"] == reference["test"]


def test_a_torn_best_checkpoint_is_named_and_its_run_trains_again(synth_smoke, results_tmp):
    from vpr_lib.runs import Run
    from vpr_lib.train.checkpoints import load_module
    from vpr_lib.train.run import train
    run_dir = train(smoke_config(synth_smoke), progress=False)
    best = Run.at(run_dir).best_checkpoint()
    best.write_bytes(best.read_bytes()[:1000])
    (run_dir / "descriptors").mkdir()
    (run_dir / "descriptors" / "sf_xs_test.npz").write_bytes(b"of the old weights")
    with pytest.raises(VPRInputError, match=rf"Checkpoint .*{best.name} is torn: set aside.*trains again"):
        load_module(best)
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "descriptors").exists()
    assert train(smoke_config(synth_smoke), progress=False) == run_dir
    load_module(Run.at(run_dir).best_checkpoint())  # whole again


def test_a_checkpoint_write_that_fails_leaves_the_previous_one(tmp_path, monkeypatch):
    import vpr_lib.results as results
    from vpr_lib.train.checkpoints import AtomicCheckpointIO
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1, "weights": torch.ones(3)}, path)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(results.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2, "weights": torch.zeros(3)}, path)
    assert torch.load(path, weights_only=False)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_temporary_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    from vpr_lib.results import remove_stale
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f".metrics.json.{dead}.x1y2.tmp").write_text("{")
    (tmp_path / f".epochs.csv.{os.getpid()}.x1y2.tmp").write_text("epoch")
    removed = remove_stale(tmp_path)
    assert [p.name for p in removed] == [f".metrics.json.{dead}.x1y2.tmp"]
    assert (tmp_path / f".epochs.csv.{os.getpid()}.x1y2.tmp").exists()


def test_a_checkpoint_outside_the_store_is_never_renamed(tmp_path, results_tmp):
    """`python -m vpr_lib.evaluate --checkpoint ~/x.ckpt` on a bad file: named, left where it is."""
    from vpr_lib.train.checkpoints import load_module
    mine = tmp_path / "mine.ckpt"
    mine.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    with pytest.raises(VPRInputError, match=r"mine.ckpt is torn or not a checkpoint"):
        load_module(mine)
    assert mine.is_file() and not (tmp_path / "mine.ckpt.torn").exists()
