"""Where things live: the repository root, data/, results/, params/ (never the current directory)."""
from __future__ import annotations

import os
from pathlib import Path

from vpr_lib.errors import VPRInputError


def repo_root() -> Path:
    """The folder holding pyproject.toml, found by walking up from this file (VPR_ROOT overrides)."""
    if os.environ.get("VPR_ROOT"):
        return Path(os.environ["VPR_ROOT"]).resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").exists():
            return parent
    return Path.cwd().resolve()


def results_dir() -> Path:
    """The results store; the environment variable VPR_RESULTS relocates it."""
    return Path(os.environ.get("VPR_RESULTS") or repo_root() / "results").resolve()


def data_dir() -> Path:
    """Default location of generated and downloaded datasets (VPR_DATA overrides)."""
    return Path(os.environ.get("VPR_DATA") or repo_root() / "data").resolve()


def synthcity_dir(profile: str) -> Path:
    """Default output folder of SynthCity for a profile."""
    return data_dir() / "synthcity" / profile


def params_dir() -> Path:
    return repo_root() / "params"


def resolve_data_root(data_root: str | os.PathLike | None, profile: str) -> Path:
    """The dataset root of a run: `data_root` when given, else SynthCity of the profile."""
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
    return synthcity_dir(profile)
