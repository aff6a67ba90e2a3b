"""Where things live: the repository root, data/, results/, params/ (never the current directory)."""
from __future__ import annotations

import os
from pathlib import Path



def repo_root() -> Path:
    """The folder holding pyproject.toml, found by walking up from this file (VPR_ROOT overrides)."""
    if os.environ.get("VPR_ROOT"):
        return Path(os.environ["VPR_ROOT"]).resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").exists():
            return parent
    return Path.cwd().resolve()


def results_dir() -> Path:
    """The results store (tables, figures, executed notebooks, STAMP); the environment variable VPR_RESULTS
    relocates it. ./run_all.sh keeps results/ for the study, and gives every other profile results/<profile>/."""
    return Path(os.environ.get("VPR_RESULTS") or repo_root() / "results").resolve()


def runs_dir() -> Path:
    """The runs (results/runs/<run id>/): inside the results store unless VPR_RUNS puts them elsewhere, as
    ./run_all.sh does so that the demo's store and the study's share their runs (the same run ids)."""
    return Path(os.environ.get("VPR_RUNS") or results_dir() / "runs").resolve()


def report_dir() -> Path:
    """Where the report is generated and built: report/ for the repository's own results/, else <results>/report/
    (the demo's PDF lies beside its tables and never replaces the study's report/main.pdf)."""
    if results_dir() == (repo_root() / "results").resolve():
        return repo_root() / "report"
    return results_dir() / "report"


def data_dir() -> Path:
    """Default location of generated and downloaded datasets (VPR_DATA overrides)."""
    return Path(os.environ.get("VPR_DATA") or repo_root() / "data").resolve()


# A training profile runs on the SynthCity of the same name, except `study`: the demo's regime and data, more runs.
SYNTHCITY_OF_PROFILE = {"study": "demo"}


def synthcity_profile(profile: str) -> str:
    """The SynthCity profile a training profile runs on."""
    return SYNTHCITY_OF_PROFILE.get(profile, profile)


def synthcity_dir(profile: str) -> Path:
    """Default output folder of SynthCity for a profile."""
    return data_dir() / "synthcity" / synthcity_profile(profile)


def params_dir() -> Path:
    return repo_root() / "params"
