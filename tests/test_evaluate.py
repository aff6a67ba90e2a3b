import re
import numpy as np
import pytest
import torch

from conftest import model_config
from vpr_lib.evaluate import compute_recalls, first_correct_rank, knn_search
from vpr_lib.errors import VPRInputError
from vpr_lib.models import VPRModel, build_aggregator


def test_recall_on_a_hand_worked_example():
    predictions = np.array([[2, 0, 1], [1, 2, 0], [0, 1, 2], [4, 3, 0]])
    positives = [np.array([0]), np.array([5]), np.array([2, 7]), np.array([4])]
    # first correct rank: q0 → 2, q1 → none, q2 → 3, q3 → 1
    assert first_correct_rank(predictions, positives).tolist() == [2, 0, 3, 1]
    assert compute_recalls(predictions, positives, ns=(1, 2, 3)) == {"R@1": 25.0, "R@2": 50.0, "R@3": 75.0}


def test_exact_knn_finds_the_nearest_descriptors():
    rng = np.random.default_rng(0)
    db = rng.normal(size=(50, 8)).astype(np.float32)
    queries = db[[7, 3]] + 1e-3
    _, idx = knn_search(db, queries, k=5)
    assert idx[:, 0].tolist() == [7, 3]


def test_unknown_aggregator_lists_the_valid_ones():
    from vpr_lib.models.aggregators import AGGREGATORS
    assert {"avg", "gem", "convap", "mixvpr", "netvlad", "crn"} <= set(AGGREGATORS)  # found by the package scan
    with pytest.raises(VPRInputError, match=rf"Unknown aggregator 'gemm'; expected one of {re.escape(str(sorted(AGGREGATORS)))}"):
        build_aggregator("gemm", (256, 4, 4))


@pytest.mark.parametrize("stage,channels", [("layer3", 256), ("layer4", 512)])
def test_feature_shape_is_computed_and_outputs_are_l2(stage, channels):
    model = VPRModel.from_config(model_config(image_size=[64, 48], last_stage=stage, aggregator="gem",
                                                   aggregator_kwargs={}, normalize=True))
    assert model.feature_shape[0] == channels
    assert model.feature_shape[1:] == ((4, 3) if stage == "layer3" else (2, 2))
    out = model(torch.randn(3, 3, 64, 48))
    assert out.shape == (3, channels) and torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    starter = VPRModel.from_config(model_config(image_size=[64, 64]))  # the starter: avg + Linear(512), no L2
    assert starter(torch.randn(2, 3, 64, 64)).shape == (2, 512)
