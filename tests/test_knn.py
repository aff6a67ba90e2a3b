"""Approximate search (faiss IVF-Flat, IVF-PQ, HNSW) against exact search on a constructed set."""
import numpy as np
import pytest

from vpr_lib.errors import VPRInputError
from vpr_lib.knn import compare_indexes, distractors, scaling_study


@pytest.fixture(scope="module")
def constructed():
    """5,000 unit vectors around 100 centres; each query is a slightly moved database vector (its positive)."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((100, 64)).astype(np.float32)
    database = centres[rng.integers(0, 100, 5000)] + 0.3 * rng.standard_normal((5000, 64)).astype(np.float32)
    database /= np.linalg.norm(database, axis=1, keepdims=True)
    truth = rng.choice(5000, 200, replace=False)
    queries = database[truth] + 0.02 * rng.standard_normal((200, 64)).astype(np.float32)
    return database, queries, [np.array([t]) for t in truth]


def test_approximate_indexes_are_close_to_exact_and_pq_is_smaller(constructed):
    table = compare_indexes(*constructed, pq_bytes=16).set_index("index")
    assert table.loc["exact", "R@1"] == 100.0
    assert table.loc["ivf_pq", "R@5"] >= 95.0 and table.loc["ivf_flat", "R@1"] >= 95.0 and table.loc["hnsw", "R@1"] >= 95.0
    assert table.loc["ivf_pq", "memory MB"] < 0.2 * table.loc["exact", "memory MB"]  # 16 bytes vs 256 per vector
    assert table.loc["ivf_pq", "% memory saved"] > 80


def test_distractors_are_unit_vectors_with_the_database_statistics(constructed):
    database = constructed[0]
    fake = distractors(database, 20_000, seed=1)
    assert fake.shape == (20_000, 64) and np.allclose(np.linalg.norm(fake, axis=1), 1, atol=1e-4)
    assert np.abs(fake.mean(0) - database.mean(0)).max() < 0.05


def test_scaling_study_pads_the_database_and_caps_a_kind(constructed):
    table = scaling_study(*constructed, sizes=[5000, 8000], kinds=("exact", "hnsw"), max_size={"hnsw": 5000})
    assert sorted(zip(table.database, table["index"])) == [(5000, "exact"), (5000, "hnsw"), (8000, "exact")]
    with pytest.raises(VPRInputError, match="below the real database"):
        scaling_study(*constructed, sizes=[100])


def test_scaling_study_is_measured_once_per_run_and_settings(constructed, results_tmp, monkeypatch):
    from vpr_lib import knn
    calls = []
    real = knn.scaling_study
    monkeypatch.setattr(knn, "scaling_study", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = knn.cached_scaling_study("run-a", *constructed, sizes=[5000], kinds=("exact",))
    again = knn.cached_scaling_study("run-a", *constructed, sizes=[5000], kinds=("exact",))
    knn.cached_scaling_study("run-a", *constructed, sizes=[5000], kinds=("exact", "hnsw"))  # other settings
    assert len(calls) == 2 and first.equals(again)
    assert len(list((results_tmp / "runs" / "run-a" / "knn").glob("scaling-*.csv"))) == 2
