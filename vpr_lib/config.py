"""Params files: `params/<notebook>.yaml` = defaults + one overlay per profile (smoke | demo | full).

    defaults: {key: value, ...}      # every valid key, with its default
    profiles: {smoke: {...}, demo: {...}, full: {...}}

Unknown keys (in a profile or an override) stop with a message listing the valid ones.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from vpr_lib.errors import VPRInputError
from vpr_lib.paths import params_dir

PROFILES = ("smoke", "demo", "full")


def _check_keys(given: dict, valid: dict, where: str) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise VPRInputError(f"Unknown parameter(s) {unknown} in {where}; valid keys: {sorted(valid)}.")


def load_params(name_or_path, profile: str = "demo", overrides: dict | None = None) -> dict:
    """Resolved parameters of a notebook for a profile, with overrides applied last."""
    path = Path(name_or_path)
    if not path.suffix:
        path = params_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise VPRInputError(f"Params file not found: {path} (expected params/<notebook>.yaml).")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise VPRInputError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(spec, dict) or "defaults" not in spec:
        raise VPRInputError(f"{path}: expected a mapping with 'defaults' and 'profiles'.")
    _check_keys(spec, {"defaults": 0, "profiles": 0}, str(path))
    if profile not in PROFILES:
        raise VPRInputError(f"Unknown profile {profile!r}; expected one of {list(PROFILES)}.")
    params = dict(spec["defaults"])
    overlay = (spec.get("profiles") or {}).get(profile) or {}
    _check_keys(overlay, params, f"{path} (profile {profile})")
    params.update(overlay)
    if overrides:
        _check_keys(overrides, params, "the overrides")
        params.update(overrides)
    params["profile"] = profile
    return params
