"""Colab set-up, run by the first cell of every notebook (scripts/colab_cell.py) once the kit is cloned: installs the
kit (keeping Colab's own torch), mounts Google Drive so that data_root can point at the datasets, and says where
results go. A failed step stops with its message and can be retried by running the cell again."""
import os
import subprocess
import sys

KIT_DIR = os.environ.get("VPR_COLAB_DIR", "/content/vpr-study-kit")


def _step(command, what):  # its messages in the cell; a failure stops here and can be retried
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{(done.stdout + done.stderr).strip()[-1500:]}\n"
                         "Fix the cause and run this cell again: it retries.")


if not os.path.isfile(os.path.join(KIT_DIR, ".vpr_installed")):  # not yet installed, or a failed attempt
    _step([sys.executable, "-m", "pip", "install", "-q", KIT_DIR], "pip install of the kit")
    open(os.path.join(KIT_DIR, ".vpr_installed"), "w").close()
os.environ["VPR_ROOT"] = KIT_DIR
from google.colab import drive  # noqa: E402 - only on Colab

drive.mount("/content/drive")
RESULTS = os.environ.get("VPR_RESULTS") or os.path.join(KIT_DIR, "results")
print(f"results go to {RESULTS}" + ("" if RESULTS.startswith("/content/drive") else " (the runtime's disk, lost "
      "when it recycles; %env VPR_RESULTS=/content/drive/MyDrive/vpr-results keeps them on Drive)"))
