"""The project set-up: dependency lists agree, params files resolve."""
import hashlib
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from vpr_lib.config import PROFILES, in_profile, load_params, run_configs
from vpr_lib.errors import VPRInputError

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_installs_what_pyproject_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = [r.split("#")[0].strip() for r in pip_section if not r.startswith("-e")]
    assert sorted(listed) == sorted(declared)


def test_constraints_pin_the_local_torch_build():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert set(pins) == {"torch", "torchvision"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ranges = {_name(d): d for d in project["dependencies"]}
    assert not any("==" in ranges[p] for p in pins)  # ranges in pyproject, so Colab keeps its torch


@pytest.mark.parametrize("path", sorted((ROOT / "params").glob("[0-9][0-9]_*.yaml")), ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_params_file_resolves_in_every_profile(path, profile):
    params = load_params(path, profile)
    assert params["profile"] == profile


def test_unknown_keys_are_listed(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("defaults: {lr: 0.1}\nprofiles: {demo: {lr: 0.2, epocs: 3}}\n")
    with pytest.raises(VPRInputError, match=r"Unknown parameter\(s\) \['epocs'\].*valid keys: \['lr'\]"):
        load_params(bad, "demo")
    with pytest.raises(VPRInputError, match=r"Unknown parameter\(s\) \['batch'\] in the overrides"):
        load_params(bad, "smoke", {"batch": 3})
    with pytest.raises(VPRInputError, match="Unknown profile 'fast'"):
        load_params(bad, "fast")
    assert load_params(bad, "smoke")["lr"] == 0.1


def test_a_profile_may_run_a_variant_with_changes_or_leave_the_notebook_out(tmp_path):
    spec = tmp_path / "x.yaml"
    spec.write_text("extends: train\ndefaults: {seeds: [0, 1, 2]}\nvariants: {a: {}, b: {epochs: 3}}\nprofiles:\n"
                    "  demo: {variants: [a, b: {seeds: [0]}]}\n  smoke: {variants: []}\n"
                    "  full: {variants: [b: {epocs: 2}]}\n  study: {variants: [b: 3]}\n")
    runs = [(c["variant"], c["seed"], c["epochs"]) for c in run_configs(load_params(spec, "demo"))]
    assert runs == [("a", 0, 4), ("a", 1, 4), ("a", 2, 4), ("b", 0, 3)]  # b keeps its own change (epochs)
    assert load_params(spec, "smoke")["variants"] == {} and not in_profile(spec, "smoke") and in_profile(spec, "demo")
    with pytest.raises(VPRInputError, match=r"\['epocs'\] in .*(profile full, variant b)"):
        load_params(spec, "full")
    with pytest.raises(VPRInputError, match=r"expected a list of variant names or \{name: \{key: value\}\}"):
        load_params(spec, "study")


def test_a_training_notebook_joins_only_the_profiles_that_name_its_variants(tmp_path):
    """Issue 32: a new notebook does not join the demo (and lengthen it) until its params say what runs there."""
    spec = tmp_path / "x.yaml"
    spec.write_text("extends: train\ndefaults: {seeds: [0]}\nvariants: {a: {}, b: {epochs: 3}}\nprofiles:\n"
                    "  smoke: {seeds: [0, 1]}\n  study: {variants: all}\n")
    assert not in_profile(spec, "smoke") and not in_profile(spec, "demo")  # no `variants:`, no profile block
    assert list(load_params(spec, "study")["variants"]) == ["a", "b"]


def test_the_demo_leaves_notebooks_to_the_study_profile_which_runs_on_its_data():
    """Every notebook runs in the study profile; the demo runs a subset, in the same regime and on the same data."""
    from vpr_lib.paths import synthcity_dir
    from vpr_lib.settings import TRAIN_PROFILES
    names = [p.stem for p in sorted((ROOT / "params").glob("[0-9][0-9]_*.yaml"))]
    assert all(in_profile(name, "study") for name in names)
    assert [name for name in names if not in_profile(name, "demo")] == [
        "02_gem", "04_losses", "05_miners", "06_samplers", "08_optimizers", "10_mining", "11_ablations",
        "13_self_supervised", "14_mixvpr_losses"]
    for name in names:
        demo, study = (load_params(name, p) for p in ("demo", "study"))
        assert set(demo["variants"]) <= set(study["variants"])
    assert TRAIN_PROFILES["study"] == TRAIN_PROFILES["demo"] and synthcity_dir("study") == synthcity_dir("demo")


def test_a_venv_copied_with_its_project_is_repointed_at_the_copy(tmp_path):
    """Issue 31, item 3: `cp -a kit kit2` kept .venv's editable install naming kit, so kit2's run_all.sh ran kit's code
    and wrote into kit's results. The copied venv here: its own python, the kit's dependencies (through a .pth to
    this venv's site-packages, not copied: 5 GB), and this venv's editable-install files and stamp, as cp -a keeps
    them."""
    import shutil
    import subprocess
    import sys
    import sysconfig
    kit2 = tmp_path / "kit2"
    for rel in subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.splitlines():
        if (ROOT / rel).is_file() and not rel.startswith(("results/", "report/", "notebooks/")):
            (kit2 / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, kit2 / rel)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # pip as ours, below
    ours = Path(sysconfig.get_paths()["purelib"])
    site = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_kit_dependencies.pth").write_text(f"{ours}\n")
    for copied in [*ours.glob("__editable__*vpr_lib*"), *ours.glob("vpr_lib-*.dist-info")]:
        (shutil.copytree if copied.is_dir() else shutil.copy2)(copied, site / copied.name)
    # the stamp of an installed venv: what bootstrap_venv.sh digests (its dependency lists)
    package = re.search(r'^WEIGHTS_PACKAGE="([^"]+)"', (ROOT / "scripts/bootstrap_venv.sh").read_text(), re.M)[1]
    lists = (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes() + f"{package}\n".encode()
    (venv / ".vpr_installed").write_text(hashlib.sha256(lists).hexdigest() + "\n")
    where = "import vpr_lib.paths as p; print(p.repo_root())"  # run with -P: as a kernel in notebooks/ imports
    env = {k: v for k, v in os.environ.items() if k not in ("VPR_ROOT", "VIRTUAL_ENV")}
    before = subprocess.run([str(venv / "bin/python"), "-P", "-c", where], env=env, capture_output=True, text=True,
                            cwd=kit2)
    assert before.stdout.strip() == str(ROOT)  # the copy imports the original's code
    shared = subprocess.run(["bash", "-c", f"cd {kit2} && source scripts/bootstrap_venv.sh"],
                            env=dict(env, VPR_VENV=str(venv), PYTHONPATH=str(kit2)), capture_output=True, text=True,
                            timeout=600, cwd=kit2)
    assert shared.returncode == 0 and "[setup]" not in shared.stdout  # shared on purpose (PYTHONPATH): left alone
    done = subprocess.run(["bash", "-c", f"cd {kit2} && source scripts/bootstrap_venv.sh && python -P -c '{where}'"],
                          env=dict(env, VPR_VENV=str(venv)), capture_output=True, text=True, timeout=600, cwd=kit2)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "a copied project?" in done.stdout, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(kit2.resolve()), done.stderr[-3000:]
