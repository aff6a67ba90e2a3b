"""vpr_lib.runs: one run's folder, written and read through a Run."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from vpr_lib.errors import VPRInputError
from vpr_lib.runs import Run, set_slug


def test_a_run_lives_in_the_store_s_runs(results_tmp):
    run = Run("avg-triplet-s0-0123456789")
    assert run.dir == results_tmp / "runs" / run.id
    assert Run.at(run.dir).id == run.id
    with pytest.raises(VPRInputError, match="not a run folder"):
        Run.at(results_tmp / "elsewhere" / run.id)


def test_predictions_round_trip_with_positives_per_query(results_tmp, tmp_path):
    root = tmp_path / "data"
    dataset = SimpleNamespace(
        positives_per_query=[np.array([0, 2]), np.array([], int), np.array([1])],
        database_paths=[root / "s/test/database" / f"d{i}.jpg" for i in range(3)],
        queries_paths=[root / "s/test/queries" / f"q{i}.jpg" for i in range(3)],
        database_utms=np.zeros((3, 2)), queries_utms=np.ones((3, 2)))
    result = {"predictions": np.array([[2, 0], [1, 2], [0, 1]]), "distances": np.full((3, 2), 0.5)}
    run = Run("r")
    run.write_predictions("s/test", result, dataset, root)
    assert run.predictions_file("s/test").name == f"{set_slug('s/test')}.npz" == "s_test.npz"
    data = run.predictions("s/test")
    assert [p.tolist() for p in data["positives"]] == [[0, 2], [], [1]]
    assert data["queries_paths"].tolist() == [f"s/test/queries/q{i}.jpg" for i in range(3)]
    np.testing.assert_array_equal(data["predictions"], result["predictions"])


def test_descriptors_are_cached_split_into_database_and_queries(results_tmp):
    run = Run("r")
    assert run.descriptors("s/test") is None
    run.write_descriptors("s/test", np.arange(10.0).reshape(5, 2), database_num=3)
    database, queries = run.descriptors("s/test")
    assert database.shape == (3, 2) and queries.shape == (2, 2)


def test_a_run_is_complete_once_its_metrics_are_written_and_forgetting_them_removes_its_caches(results_tmp, tmp_path):
    run = Run("r")
    with pytest.raises(VPRInputError, match="not complete"):
        run.metrics()
    run.write_metrics({"checkpoint": "best.ckpt", "test": {}})
    run.write_descriptors("s/test", np.zeros((2, 2)), 1)
    grids = tmp_path / "grids" / run.id
    grids.mkdir(parents=True)
    assert run.is_complete() and run.best_checkpoint() == run.checkpoints / "best.ckpt"
    run.forget_results(grids)
    assert not run.is_complete() and run.descriptors("s/test") is None and not grids.exists()
    assert (run.dir / f"{Run.METRICS}.torn").is_file()


def test_params_env_epochs_and_epoch0_are_read_as_written(results_tmp):
    run = Run("r")
    assert run.epoch0() is None
    run.write_params({"seed": 0})
    run.write_env({"git_commit": "abc"})
    run.write_epoch0({"SF-XS test": {"R@1": 5.0}})
    pd.DataFrame({"epoch": [0, 1], "R@1": [1.0, 2.0]}).to_csv(run.epochs_file, index=False)
    assert run.env()["git_commit"] == "abc" and run.epoch0()["SF-XS test"]["R@1"] == 5.0
    assert run.epochs().epoch.tolist() == [0, 1] and "seed: 0" in run.params_file.read_text()
