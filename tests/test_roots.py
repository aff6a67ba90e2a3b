"""The data a run reads: its identity (the content of its sets) enters the run id, and SynthCity is generated on first use."""
import shutil

import pytest

from vpr_lib.config import load_params, run_configs
from vpr_lib.data.roots import dataset_identity, resolve_data_root
from vpr_lib.synth.generate import generate
from vpr_lib.train.run import run_id, train


def config_on(root, **changes):
    return run_configs(load_params("01_baseline", "smoke", {"data_root": str(root), **changes}))[0]


def test_a_run_is_never_reused_for_other_data(synth_smoke, tmp_path, results_tmp):
    """The demo's runs in a store, then the same notebook on other data: the second trains anew."""
    other = tmp_path / "smoke_seed1"
    generate("smoke", 1, other, progress=False)
    first = train(config_on(synth_smoke), progress=False)
    assert train(config_on(synth_smoke), progress=False) == first  # same data: reused
    second = train(config_on(other), progress=False)
    assert second != first and (second / "metrics.json").is_file()
    assert len(list((results_tmp / "runs").iterdir())) == 2


def test_data_identity_follows_the_files_not_the_path(tokyo_split, tmp_path):
    root = tokyo_split.parents[1]  # tokyo_xs/test's root
    sets = ["tokyo_xs/test"]
    moved = tmp_path / "moved"
    shutil.copytree(root / "tokyo_xs", moved / "tokyo_xs")
    assert dataset_identity(moved, sets) == dataset_identity(root, sets)
    (moved / "tokyo_xs/test/queries" / "extra.jpg").write_bytes(b"x" * 10)  # one more file: other data
    assert dataset_identity(moved, sets) != dataset_identity(root, sets)
    with pytest.raises(Exception, match=r"expected the set sf_xs/val at .*sf_xs/val"):
        dataset_identity(root, ["sf_xs/val"])


def test_synthcity_identity_is_its_content(synth_smoke, tmp_path):
    other = tmp_path / "smoke_seed2"
    generate("smoke", 2, other, progress=False)
    sets = ["gsv_xs/train", "sf_xs/val"]
    assert dataset_identity(synth_smoke, sets).startswith("content-")
    assert dataset_identity(other, sets) != dataset_identity(synth_smoke, sets)
    assert run_id(config_on(other)) != run_id(config_on(synth_smoke))


def test_default_synthcity_is_generated_on_first_use(tmp_path, monkeypatch, capsys):
    """python -m vpr_lib.train, evaluate or a notebook opened alone: the profile's SynthCity is made on first use."""
    monkeypatch.setenv("VPR_DATA", str(tmp_path / "data"))
    root = resolve_data_root("", "smoke")
    assert root == tmp_path / "data" / "synthcity" / "smoke" and (root / "manifest.json").is_file()
    assert "generating it" in capsys.readouterr().out
    assert resolve_data_root("", "smoke") == root and "generating" not in capsys.readouterr().out
