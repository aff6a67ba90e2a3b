"""A first run on a simulated Colab: a fresh virtual environment that already holds torch and torchvision (Colab's
own), a fake google.colab imported at interpreter start (as Colab preloads it), and VPR_REPO_URL pointing at a local
bare clone of this repository.  The notebook's set-up cell clones and installs the kit; the notebook then runs.

Only one torch / torchvision pair installs on our machines (the one constraints.txt pins: torch 2.13.0+cpu is
reachable, but no torchvision built for it), so the pre-installed torch is the same version as ours, installed
without constraints.txt; the test checks that the kit's install leaves its files untouched."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def colab_python(tmp_path_factory):
    """A fresh venv with Colab's pre-installed torch, torchvision, ipykernel and papermill (not the kit)."""
    import torch
    import torchvision
    venv = tmp_path_factory.mktemp("colab") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", f"torch=={torch.__version__.split('+')[0]}",
                              f"torchvision=={torchvision.__version__.split('+')[0]}", "ipykernel", "papermill"],
                             capture_output=True, text=True, timeout=1200)
    if install.returncode != 0:
        reason = f"cannot build the simulated Colab environment: {install.stderr.strip().splitlines()[-1:]}"
        if os.environ.get("VPR_REQUIRE_COLAB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return python


def fake_colab(folder: Path) -> Path:
    """google.colab with a drive.mount that records its calls; sitecustomize imports it at start, as Colab does."""
    (folder / "google" / "colab").mkdir(parents=True)
    # no google/__init__.py: as on Colab, `google` stays a namespace package that google.protobuf (TensorBoard) shares
    (folder / "google" / "colab" / "__init__.py").write_text("")
    (folder / "google" / "colab" / "drive.py").write_text(
        "import os\ndef mount(path):\n    open(os.environ['FAKE_MOUNT_LOG'], 'a').write(path + '\\n')\n")
    (folder / "sitecustomize.py").write_text("import google.colab\n")
    return folder


def test_the_setup_cell_installs_the_kit_beside_colabs_torch_and_the_notebook_runs(colab_python, synth_smoke,
                                                                                    tmp_path):
    bare = tmp_path / "kit.git"
    subprocess.run(["git", "clone", "--bare", "-q", str(ROOT), str(bare)], check=True)
    site = Path(subprocess.run([str(colab_python), "-c", "import torch, os; print(os.path.dirname(torch.__file__))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    before = {p: p.stat().st_mtime_ns for p in (site / "__init__.py", site / "version.py")}
    kit = tmp_path / "content" / "vpr-study-kit"
    environ = {k: v for k, v in os.environ.items()
               if k not in ("VPR_ROOT", "VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("PIP_CONSTRAINT")}
    environ.update(PATH=f"{colab_python.parent}:{environ['PATH']}", PYTHONPATH=str(fake_colab(tmp_path / "fake")),
                   FAKE_MOUNT_LOG=str(tmp_path / "mounts.log"), VPR_REPO_URL=f"file://{bare}",
                   VPR_COLAB_DIR=str(kit), VPR_RESULTS=str(tmp_path / "results"))
    out = tmp_path / "01_baseline.ipynb"
    done = subprocess.run([str(colab_python), "-m", "papermill", str(ROOT / "notebooks/01_baseline.ipynb"), str(out),
                           "-k", "python3", "-p", "profile", "smoke", "-p", "data_root", str(synth_smoke),
                           "--cwd", str(tmp_path)], env=environ, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (kit / ".git").is_dir() and (kit / "params/01_baseline.yaml").is_file()  # cloned from VPR_REPO_URL
    assert (tmp_path / "mounts.log").read_text() == "/content/drive\n"
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in before.items())  # Colab's torch untouched
    where = subprocess.run([str(colab_python), "-c", "import vpr_lib, submitit; print(vpr_lib.__file__)"],
                           capture_output=True, text=True, env={**environ, "PYTHONPATH": ""}, cwd=tmp_path)
    assert where.returncode == 0 and str(colab_python.parents[1]) in where.stdout  # installed in the venv, not ours
    executed = nbformat.read(out, as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert (tmp_path / "results/tables/01_baseline_summary.csv").is_file()
