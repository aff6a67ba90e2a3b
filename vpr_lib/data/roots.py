"""Which data a run reads: the dataset root (SynthCity generated on first use) and its identity.

The identity enters the run id, so a result is never reused for other data: it digests the name and content of
every file of the sets a run reads (vpr_lib.data.identity), SynthCity's as any other root's. A stored manifest is
not trusted: a copy of SynthCity with a file changed or removed is other data.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from vpr_lib.data.identity import folder_digest
from vpr_lib.data.places import PlacesDataset
from vpr_lib.errors import VPRInputError
from vpr_lib.paths import repo_root, synthcity_dir, synthcity_profile
from vpr_lib.synth.generate import GENERATOR_VERSION, generate

SYNTHCITY_SEED = 0  # the seed run_all.sh and every entry point generate SynthCity with


def resolve_data_root(data_root: str | os.PathLike | None, profile: str, generate_missing: bool = True) -> Path:
    """The dataset root of a run: `data_root` when given, else SynthCity of the profile (generated when missing,
    unless `generate_missing` is False: then a missing SynthCity is a VPRInputError)."""
    if data_root:
        root = Path(data_root).expanduser()
        if not root.is_absolute():
            root = repo_root() / root
        if not root.is_dir():
            raise VPRInputError(f"data_root {root} does not exist: expected a folder holding gsv_xs/, sf_xs/ and "
                                "tokyo_xs/ (or SynthCity's output).")
        return root.resolve()
    if profile == "full":
        raise VPRInputError("The full profile runs on the real datasets: pass data_root (the folder holding "
                            "gsv_xs/, sf_xs/, tokyo_xs/), e.g. ./run_all.sh --profile full --data-root DIR.")
    root = synthcity_dir(profile)
    if _synthcity_manifest(root).get("generator_version") != GENERATOR_VERSION:
        if not generate_missing:
            raise VPRInputError(f"SynthCity {profile} is not generated yet in {root} (python -m vpr_lib.synth).")
        print(f"SynthCity {profile} is missing in {root}: generating it (once; python -m vpr_lib.synth)")
        generate(synthcity_profile(profile), SYNTHCITY_SEED, root, progress=False)
    return root


_MANIFESTS: dict = {}  # (manifest path, modification time) → its fields but the file list


def _synthcity_manifest(root: Path) -> dict:
    path = Path(root) / "manifest.json"
    try:
        key = (str(path), path.stat().st_mtime_ns)
        if key not in _MANIFESTS:
            manifest = json.loads(path.read_text())
            _MANIFESTS[key] = {k: v for k, v in manifest.items() if k != "files"}
    except (OSError, ValueError):
        return {}
    manifest = _MANIFESTS[key]
    return manifest if manifest.get("generator") == "vpr_lib.synth" else {}


def dataset_identity(root: Path, sets) -> str:
    """What identifies the data of a run: a digest of the names and contents of the files of its sets."""
    sha = hashlib.sha1()
    for rel in sorted(set(sets)):
        folder = Path(root) / rel
        if not folder.is_dir():
            raise VPRInputError(f"Missing folder: expected the set {rel} at {folder} (data_root {root}).")
        sha.update(f"{rel}\t{folder_digest(folder)}\n".encode())
    return f"content-{sha.hexdigest()[:12]}"


def count_places(config: dict, generate_missing: bool = True) -> int | None:
    """Places of a run's training set (None when the data is not there; a missing SynthCity is generated first
    unless `generate_missing` is False)."""
    try:
        root = resolve_data_root(config["data_root"], config["profile"], generate_missing)
        return len(PlacesDataset.from_folder(root / config["train_set"], img_per_place=config["img_per_place"],
                                             min_img_per_place=config["min_img_per_place"]))
    except VPRInputError:
        return None
