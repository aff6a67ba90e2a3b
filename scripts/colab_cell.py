# Set-up, the same first cell in every notebook (scripts/colab_cell.py): a no-op outside Colab. In Colab, set the
# kit's repository in a cell above (%env VPR_REPO_URL=https://github.com/<you>/<fork>); this clones it once and runs
# its scripts/colab_setup.py (install, Google Drive). %env VPR_RESULTS=/content/drive/MyDrive/vpr-results keeps results.
import os, subprocess, sys
if "google.colab" in sys.modules:
    KIT_DIR, REPO_URL = os.environ.get("VPR_COLAB_DIR", "/content/vpr-study-kit"), os.environ.get("VPR_REPO_URL")
    if not os.path.isdir(os.path.join(KIT_DIR, ".git")):  # git removes a clone that failed: the cell retries
        if not REPO_URL:
            raise SystemExit("Set the kit's repository first, in a cell above: %env VPR_REPO_URL=<git URL of the kit>")
        if os.path.isdir(KIT_DIR) and os.listdir(KIT_DIR):
            raise SystemExit(f"{KIT_DIR} holds other files: set %env VPR_COLAB_DIR=<an empty or new folder>")
        done = subprocess.run(["git", "clone", "--depth", "1", REPO_URL, KIT_DIR], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"git clone {REPO_URL} failed:\n{done.stderr.strip()[-1500:]}\n"
                             "Fix the cause and run this cell again: it retries.")
    exec(open(os.path.join(KIT_DIR, "scripts", "colab_setup.py")).read())
