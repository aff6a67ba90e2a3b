"""The project set-up: dependency lists agree, params files resolve."""
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from vpr_lib.config import load_params
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
@pytest.mark.parametrize("profile", ["smoke", "demo", "full"])
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
