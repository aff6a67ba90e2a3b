"""Where the study's sets live under a data root, and what they contain (notebook 00)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vpr_lib.errors import VPRInputError

TRAIN_DIR = "gsv_xs/train"
TEST_SETS = {"SF-XS val": "sf_xs/val", "SF-XS test": "sf_xs/test", "Tokyo-XS": "tokyo_xs/test"}
MINING_TRAIN_DIR = "sf_xs/train"  # database + queries, for offline triplet mining (notebook 10)
# folder -> the name tables, figures and the report use (sf_xs/test -> SF-XS test)
SET_LABELS = {rel: name for name, rel in {"GSV-XS train": TRAIN_DIR, "SF-XS train": MINING_TRAIN_DIR,
                                          **TEST_SETS}.items()}


def find_sets(root: Path) -> dict:
    """{display name: folder} of the sets present under `root` (train set under 'GSV-XS train')."""
    root = Path(root)
    found = {name: root / rel for name, rel in TEST_SETS.items() if (root / rel).is_dir()}
    if (root / MINING_TRAIN_DIR).is_dir():
        found = {"SF-XS train": root / MINING_TRAIN_DIR, **found}
    if (root / TRAIN_DIR).is_dir():
        found = {"GSV-XS train": root / TRAIN_DIR, **found}
    if not found:
        raise VPRInputError(f"No dataset under {root}: expected {TRAIN_DIR}/ and/or "
                            f"{', '.join(TEST_SETS.values())} (the real XS layout or SynthCity's).")
    return found


def conditions(root: Path) -> pd.DataFrame | None:
    """SynthCity's per-image condition metadata (None for real data)."""
    path = Path(root) / "conditions.csv"
    return pd.read_csv(path) if path.is_file() else None


def data_label(data_root: str, profile: str) -> str:
    """'SynthCity <profile>' for our generated data (an empty data_root, or a folder whose manifest says so),
    else 'real data': what captions and tables say about where a result comes from."""
    manifest = Path(data_root) / "manifest.json" if data_root else None
    if manifest is None or (manifest.is_file() and json.loads(manifest.read_text()).get("generator") == "vpr_lib.synth"):
        return f"SynthCity {profile}"
    return "real data"
