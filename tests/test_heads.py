"""NetVLAD-family heads: sizes, normalisation, k-means initialisation, and the cost table."""
import numpy as np
import pytest
import torch

from conftest import model_config
from vpr_lib.errors import VPRInputError
from vpr_lib.models import VPRModel
from vpr_lib.models.aggregators import build_aggregator
from vpr_lib.models.costs import model_costs


@pytest.mark.parametrize("name", ["netvlad", "crn", "crn2"])
def test_netvlad_family_descriptor_is_clusters_times_channels_and_unit_norm(name):
    head = build_aggregator(name, (256, 4, 4), clusters=8)
    out = head(torch.randn(3, 256, 4, 4))
    assert out.shape == (3, 8 * 256) and head.out_dim == 8 * 256
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    # intra-normalisation: every cluster's block has the same norm (1/sqrt(K)) before nothing else rescales it
    blocks = out.view(3, 8, 256).norm(dim=2)
    assert torch.allclose(blocks[blocks > 0], torch.full_like(blocks[blocks > 0], 8 ** -0.5), atol=1e-5)


def test_netvlad_input_shape_mismatch_names_the_expected_shape():
    head = build_aggregator("netvlad", (256, 2, 2), clusters=4)
    with pytest.raises(VPRInputError, match=r"\(B, 256, 2, 2\)"):
        head(torch.randn(1, 128, 2, 2))


def test_kmeans_initialisation_sets_centroids_and_assignment():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 16)).astype(np.float32)
    features = np.repeat(centres, 50, axis=0) + 0.01 * rng.standard_normal((200, 16)).astype(np.float32)
    head = build_aggregator("netvlad", (16, 2, 2), clusters=4)
    before = head.centroids.detach().clone()
    head.init_clusters(features)
    centroids = head.centroids.detach().numpy()
    assert not torch.allclose(before, head.centroids)
    truth = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    assert (truth @ centroids.T).max(axis=1).min() > 0.99  # every true centre found
    # w_k = 2αc_k, b_k = −α‖c_k‖²: the conv weights are the centroids up to the positive scale 2α
    weight = head.assign.weight.detach()[:, :, 0, 0].numpy()
    alpha = weight[0, 0] / (2 * centroids[0, 0])
    assert alpha > 0 and np.allclose(weight, 2 * alpha * centroids, rtol=1e-4)
    assert np.allclose(head.assign.bias.detach().numpy(), -alpha * (centroids ** 2).sum(1), rtol=1e-4)
    # the nearest centroid outweighs the second 100 : 1 on average for a local feature
    x = torch.from_numpy(features[:1]).view(1, 16, 1, 1).expand(1, 16, 2, 2).contiguous()
    assignment, _ = head.soft_assignment(x)
    top2 = assignment[0, :, 0, 0].sort().values[-2:]
    assert top2[1] > 0.9 and top2[1] / top2[0] > 10


def test_crn_starts_as_netvlad():
    torch.manual_seed(0)
    plain = build_aggregator("netvlad", (32, 3, 3), clusters=4)
    crn = build_aggregator("crn", (32, 3, 3), clusters=4)
    crn.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 32, 3, 3)
    assert torch.allclose(plain(x), crn(x), atol=1e-6)


def test_cost_table_counts_parameters_and_flops():
    model = VPRModel.from_config(model_config(image_size=[32, 32], last_stage="layer3", aggregator="netvlad",
                                               aggregator_kwargs={"clusters": 8}, normalize=True))
    costs = model_costs(model, batch=2, repeats=1)
    assert costs["descriptor dim"] == 8 * 256 and costs["feature map (C, H, W)"] == (256, 2, 2)
    assert costs["aggregator params"] == 256 * 8 + 8 + 8 * 256  # 1x1 conv (weights + bias) + centroids
    assert costs["GFLOPs / image"] > 0 and costs["extraction ms / image"] > 0


def test_boq_descriptor_is_dim_times_rows_and_its_queries_read_every_position():
    """BoQ (issue 33): dim x rows for any map size; each output depends on every position of the map (the queries
    attend to all tokens); a map of other channels, or a dim the heads do not divide, is refused."""
    torch.manual_seed(0)
    head = build_aggregator("boq", (96, 7, 7), dim=64, queries=8, layers=2, rows=4, heads=4).eval()
    x = torch.randn(2, 96, 7, 7, requires_grad=True)
    out = head(x)
    assert out.shape == (2, 64 * 4) and head.out_dim == 64 * 4
    out[0, 0].backward()
    assert (x.grad[0].abs().sum(dim=0) > 0).all() and x.grad[1].abs().sum() == 0  # every position, own image only
    assert head(torch.randn(1, 96, 3, 5)).shape == (1, 256)
    with pytest.raises(VPRInputError, match=r"BoQ was built for feature maps of 96 channels"):
        head(torch.randn(1, 32, 7, 7))
    with pytest.raises(VPRInputError, match=r"dim \(30\) must be a multiple of heads \(4\)"):
        build_aggregator("boq", (96, 7, 7), dim=30)


def test_boq_costs_count_its_attention():
    """FlopCounterMode sees every product of BoQ's attention (torch's fused attention path would hide them)."""
    from torch.utils.flop_counter import FlopCounterMode
    head = build_aggregator("boq", (96, 7, 7)).eval()  # the demo's maps, OpenVPRLab's sizes
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        head(torch.randn(1, 96, 7, 7))
    tokens, dim, queries, layers = 49, 256, 32, 2
    linear = 2 * layers * (4 * dim * dim * tokens + 2 * dim * 4 * dim * tokens)  # token projections + feed-forward
    products = 2 * layers * 2 * (tokens * tokens + queries * queries + queries * tokens) * dim  # QK^T and AV
    assert counter.get_total_flops() > linear + products
    costs = model_costs(VPRModel.from_config(model_config(image_size=[64, 64], last_stage="layer3", aggregator="boq",
                                                          aggregator_kwargs={})), batch=2, repeats=1)
    assert costs["descriptor dim"] == 4096 and costs["GFLOPs / image"] > 0
