"""Params files: `params/<notebook>.yaml` = defaults + one overlay per profile (smoke | demo | study | full).

    extends: train                   # optional: start from vpr_lib.settings (every training key)
    defaults: {key: value, ...}      # the notebook's keys and defaults
    profiles: {smoke: {...}, demo: {...}, study: {...}, full: {...}}  # a profile's `variants: [names]` runs
                                     # those, `variants: all` every one; a training notebook whose profile names
                                     # no variants (no `variants:`, or `[]`) is not part of that profile: a new
                                     # notebook joins no profile until its params say which variants run there
    variants: {name: {key: value}}   # optional: the experiment's variants (each run = variant x seed)
    report: {title: ..., compares: ...}  # optional: the notebook's section in the PDF (REPORT_KEYS)

Unknown keys (in a profile, a variant or an override) stop with a message listing the valid ones.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import yaml

from vpr_lib.errors import VPRInputError
from vpr_lib.paths import params_dir, repo_root
from vpr_lib.settings import TRAIN_DEFAULTS, TRAIN_PROFILES

PROFILES = ("smoke", "demo", "study", "full")
TOP_KEYS = ("extends", "defaults", "profiles", "variants", "report")
# A notebook's section in the report: `section` names its builder (vpr_lib.report: `experiment`, the default, for
# a notebook that trains; `visual_analysis`, `knn`); `title` and `compares` (what its table compares, in a caption);
# `table_groups` splits its summary into one table per {label, variants: regular expression on the variant names};
# `tables` and `figures` add results/tables|figures/<name> with a caption: [{name, caption}]; `epoch_table: true`
# adds its per-epoch table; `reads: {tables: [names], figures: [names]}` names the outputs a section builder reads
# with captions of its own (03, 12). Together they declare the notebook's outputs (declared_outputs).
REPORT_KEYS = ("section", "title", "compares", "table_groups", "tables", "figures", "epoch_table", "reads")
REPORT_ITEM_KEYS = {"table_groups": ("label", "variants"), "tables": ("name", "caption"), "figures": ("name", "caption")}
# wide: across both columns (a table of many columns); shows: what the sentence citing it says it shows; profiles:
# the profiles in which the notebook writes it (default: every profile it runs in)
REPORT_ITEM_OPTIONS = {"tables": {"wide": bool, "shows": str, "profiles": list},
                       "figures": {"shows": str, "profiles": list}}
# What run_experiment saves for a notebook that trains (tables/<name>_<kind>.csv), `versus` too when it compares
EXPERIMENT_TABLES = ("runs", "results", "epochs", "epoch0", "summary")


def _check_keys(given: dict, valid, where: str) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise VPRInputError(f"Unknown parameter(s) {unknown} in {where}; valid keys: {sorted(valid)}.")


def _read_spec(name_or_path) -> tuple[Path, dict]:
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
    _check_keys(spec, TOP_KEYS, str(path))
    return path, spec


def _profile_variants(subset, where: str) -> dict:
    """A profile's `variants:` list → {name: changes}: each item a name or a one-key mapping {name: {key: value}}."""
    picked = {}
    for item in subset if isinstance(subset, list) else [subset]:
        if isinstance(item, str):
            picked[item] = {}
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict):
            picked.update(item)
        else:
            raise VPRInputError(f"{where}: expected a list of variant names or {{name: {{key: value}}}} mappings, "
                                f"got {item!r}.")
    return picked


def load_params(name_or_path, profile: str = "demo", overrides: dict | None = None) -> dict:
    """Resolved parameters of a notebook for a profile, overrides applied last.

    The result holds the notebook's keys, `profile`, and `variants` ({name: overrides}; {'default': {}}
    when the file declares none)."""
    path, spec = _read_spec(name_or_path)
    if profile not in PROFILES:
        raise VPRInputError(f"Unknown profile {profile!r}; expected one of {list(PROFILES)}.")
    params = {}
    if spec.get("extends"):
        if spec["extends"] != "train":
            raise VPRInputError(f"{path}: extends {spec['extends']!r} unknown; expected 'train'.")
        params = copy.deepcopy(TRAIN_DEFAULTS)
        params.update(copy.deepcopy(TRAIN_PROFILES[profile]))
        _check_keys(spec["defaults"] or {}, params, f"{path} (defaults; a training notebook's keys are the training "
                                                    "parameters)")
    params.update(copy.deepcopy(spec["defaults"]))
    overlay = dict((spec.get("profiles") or {}).get(profile) or {})
    subset = overlay.pop("variants", [] if spec.get("extends") else "all")  # the variants this profile runs
    _check_keys(overlay, params, f"{path} (profile {profile})")
    params.update(copy.deepcopy(overlay))
    variants = spec.get("variants") or {"default": {}}
    for name, changes in variants.items():
        _check_keys(changes or {}, params, f"{path} (variant {name})")
    if subset != "all":  # names, or {name: changes} to run a variant otherwise in this profile (fewer seeds…)
        picked = _profile_variants(subset, f"{path} (profile {profile}, variants)")
        _check_keys(picked, variants, f"{path} (profile {profile}, variants)")
        for name, changes in picked.items():
            _check_keys(changes, params, f"{path} (profile {profile}, variant {name})")
        variants = {name: {**(variants[name] or {}), **changes} for name, changes in picked.items()}
    if overrides:
        _check_keys(overrides, params, "the overrides")
        params.update(overrides)
    params["profile"] = profile
    params["variants"] = {name: dict(changes or {}) for name, changes in variants.items()}
    return params


def study_params(name: str, profile: str = "demo", data_root: str = "", overrides: dict | None = None) -> dict:
    """A notebook's parameters, resolved once from the three every notebook declares: the profile, the data
    (empty: SynthCity of the profile) and overrides of keys of its params file."""
    changes = dict(overrides or {})
    if data_root:
        changes["data_root"] = data_root
    return load_params(name, profile, changes)


def report_settings(name: str) -> dict | None:
    """The `report:` block of params/<name>.yaml (keys checked), or None for a notebook outside the report."""
    path, spec = _read_spec(name)
    settings = spec.get("report")
    if settings is None:
        return None
    if not isinstance(settings, dict):
        raise VPRInputError(f"{path}: report must be a mapping of {list(REPORT_KEYS)}, got {settings!r}.")
    _check_keys(settings, REPORT_KEYS, f"{path} (report)")
    for key, fields in REPORT_ITEM_KEYS.items():
        items = settings.get(key, [])
        options = REPORT_ITEM_OPTIONS.get(key, {})
        if not (isinstance(items, list) and all(
                isinstance(i, dict) and set(fields) <= set(i) <= set(fields) | set(options)
                and all(isinstance(v, options.get(k, str)) for k, v in i.items()) for i in items)):
            optional = "".join(f", optional {k}: {t.__name__}" for k, t in options.items())
            raise VPRInputError(f"{path}: report {key} must be a list of {{{', '.join(fields)}}} mappings of strings"
                                f"{optional}, got {items!r}.")
    for key in ("section", "title", "compares"):
        if key in settings and not isinstance(settings[key], str):
            raise VPRInputError(f"{path}: report {key} must be a string, got {settings[key]!r}.")
    reads = settings.get("reads", {})
    if not (isinstance(reads, dict) and set(reads) <= {"tables", "figures"} and all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in reads.values())):
        raise VPRInputError(f"{path}: report reads must be {{tables: [names], figures: [names]}}, got {reads!r}.")
    return {"section": "experiment", "title": name, "compares": name, "table_groups": [], "tables": [],
            "figures": [], "epoch_table": False, **settings, "reads": {"tables": [], "figures": [], **reads}}


def declared_outputs(name: str, profile: str) -> dict[str, list[str]]:
    """The tables and figures (names under results/tables|figures/) that notebook `name` writes in `profile` and
    the report reads: for a notebook that trains, EXPERIMENT_TABLES, `versus` when it runs several variants, and its
    validation curves unless its section shows an epoch table instead; then its `report:` block's `tables`,
    `figures` (in the profiles they name) and `reads`. Nothing for a notebook outside the report or the profile.
    A notebook that does not write them all fails (vpr_lib.notebooks); the report refuses results without them."""
    settings = report_settings(name)
    if settings is None or not in_profile(name, profile):
        return {"tables": [], "figures": []}
    params = load_params(name, profile)
    tables, figures = [], []
    if trains(params):
        tables += [f"{name}_{kind}" for kind in EXPERIMENT_TABLES + (("versus",) if len(params["variants"]) > 1 else ())]
        figures += [] if settings["epoch_table"] else [f"{name}_val_curves"]
    for kind, names in (("tables", tables), ("figures", figures)):
        names += [i["name"] for i in settings[kind] if profile in i.get("profiles", PROFILES)]
        names += settings["reads"][kind]
    return {"tables": tables, "figures": figures}


def missing_outputs(name: str, profile: str, folder: Path) -> list[str]:
    """The declared outputs of notebook `name` in `profile` that `folder` (a stage, or the store) lacks."""
    declared = declared_outputs(name, profile)
    return [f"{kind}/{n}{suffix}" for kind, suffix in (("tables", ".csv"), ("figures", ".png"))
            for n in declared[kind] if not (folder / kind / f"{n}{suffix}").is_file()]


def _check_seeds(seeds, where: str) -> list:
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise VPRInputError(f"Parameter seeds{where} must be a non-empty list of ints (e.g. [0, 1, 2]), got {seeds!r}.")
    return seeds


def run_configs(params: dict) -> list[dict]:
    """One config per (variant, seed): the notebook's params with the variant applied and one seed."""
    runs = []
    for name, changes in params["variants"].items():
        base = {k: v for k, v in params.items() if k not in ("variants", "seeds")}
        base.update(changes)
        scale = base.get("image_scale", 1.0)
        if "image_size" in base and isinstance(scale, (int, float)) and scale > 0 and scale != 1.0:  # actual resolution
            base["image_size"] = [max(8, round(side * scale)) for side in base["image_size"]]
        seeds = changes.get("seeds", params.get("seeds", [0]))
        for seed in _check_seeds(seeds, f" (variant {name})" if "seeds" in changes else ""):
            runs.append(dict(base, variant=name, seed=int(seed)))
    return runs


def trains(params: dict) -> bool:
    """Whether resolved params are a notebook's that trains: `extends: train` puts every training key, `loss`
    among them, into its params (the one definition the kit and the tests use)."""
    return "loss" in params


def in_profile(name: str, profile: str) -> bool:
    """False for a notebook that trains but whose params list no variant for this profile (`variants: []`)."""
    params = load_params(name, profile)
    return not trains(params) or bool(params["variants"])


def notebook_runs(name: str, profile: str, data_root: str = "") -> list[dict]:
    """The run configs a notebook trains or reuses: its own variants × seeds; a notebook that analyses another's
    runs (an `experiment:` key, as 03 and 12) those of that experiment; none for a notebook without training."""
    params = study_params(name, profile, data_root)
    if not trains(params) and params.get("experiment"):
        params = study_params(params["experiment"], profile, data_root, params.get("experiment_overrides"))
    return run_configs(params) if trains(params) else []


def notebook_paths(only: list[str] | None = None) -> list[Path]:
    """Numbered notebooks in order, optionally filtered by number prefix ('00', '01', …)."""
    paths = sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        unknown = [o for o in only if not any(p.name[:2] == o for p in paths)]
        if unknown:
            raise VPRInputError(f"No notebook numbered {unknown} (two digits each); available: "
                                f"{[p.stem for p in paths]}.")
        paths = [p for p in paths if p.name[:2] in only]
    return paths


def add_study_arguments(ap: argparse.ArgumentParser) -> None:
    """--profile, --only, --data-root: which notebooks of which profile on which data (shared by the CLIs)."""
    ap.add_argument("--profile", choices=PROFILES, default="demo")
    ap.add_argument("--only", default="", type=lambda text: [o.strip() for o in text.split(",") if o.strip()],
                    help="comma-separated notebook numbers, e.g. 00,01")
    ap.add_argument("--data-root", default="", help="real data (default: SynthCity of the profile)")
