"""The parts the study notebooks vary: samplers, classification losses' own optimizer, miners' statistics,
ConvAP / MixVPR shapes."""
import lightning as L
import numpy as np
import pytest
import torch

from conftest import model_config
from vpr_lib.data import PlacesDataset
from vpr_lib.data.samplers import ImageIdentities, ViewsBatchSampler, PlaceImages, ProxyBatchSampler, image_batch_sampler
from vpr_lib.errors import VPRInputError
from vpr_lib.models import VPRModel, build_aggregator
from vpr_lib.train.losses import build_miner, mined_fractions


@pytest.fixture(scope="module")
def places(synth_smoke):
    return PlacesDataset.from_folder(synth_smoke / "gsv_xs" / "train", img_per_place=4, min_img_per_place=4)


def batches_of(sampler, images: PlaceImages, count: int = 5):
    out = []
    for i, batch in enumerate(sampler):
        if i == count:
            break
        out.append((images.labels[batch], images.cities[batch]))
    return out


def test_mperclass_batches_hold_k_images_of_each_of_p_places(places):
    images = PlaceImages(places)
    for labels, _ in batches_of(image_batch_sampler("mperclass", images, 6, 4), images):
        assert len(labels) == 24
        values, counts = np.unique(labels, return_counts=True)
        assert len(values) == 6 and set(counts) == {4}


def test_hierarchical_batches_draw_their_places_from_two_cities(places):
    images = PlaceImages(places)
    assert len(set(images.cities)) > 2
    for labels, cities in batches_of(image_batch_sampler("hierarchical", images, 6, 4), images):
        assert len(labels) == 24 and len(set(cities)) == 2
        values, counts = np.unique(labels, return_counts=True)
        assert set(counts) == {4}  # K images per place
        for city in set(cities):  # each city fills half of the batch
            assert (cities == city).sum() == 12


def test_self_supervised_batches_hold_k_views_of_p_distinct_images(places):
    images = ImageIdentities(places)
    sampler = ViewsBatchSampler(len(images), 6, 4, num_batches=len(places) // 6)
    batches = list(sampler)
    assert len(batches) == len(places) // 6
    for batch in batches:
        values, counts = np.unique(batch, return_counts=True)
        assert len(values) == 6 and set(counts) == {4}
        assert [int(images[j][1]) for j in batch[:4]] == [batch[0]] * 4  # label = the image itself, not its place
    assert len(np.unique(np.concatenate(batches))) == len(batches) * 6  # no image twice in an epoch


def test_self_supervised_sampler_refuses_class_weight_losses():
    from vpr_lib.config import load_params, run_configs
    from vpr_lib.train.checks import validate
    config = run_configs(load_params("13_self_supervised", "smoke", {"loss": "arcface"}))[1]
    with pytest.raises(VPRInputError, match="labels images, not places"):
        validate(config)


def test_unknown_sampler_option_is_named(places):
    with pytest.raises(VPRInputError, match=r"Unknown sampler_kwargs \['m'\].*length_before_new_iter"):
        image_batch_sampler("mperclass", PlaceImages(places), 6, 4, {"m": 2})


def test_proxy_sampler_batches_nearest_places_together():
    torch.manual_seed(0)
    sampler = ProxyBatchSampler(num_places=40, places_per_batch=4)
    first = list(sampler)  # before any proxy: a random partition
    assert len(first) == 10 and sorted(np.concatenate(first)) == list(range(40))
    # ten tight clusters of four places each, in shuffled order: every batch must be one cluster
    cluster = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 4))
    centres = np.random.default_rng(1).normal(size=(10, 16))
    sampler.set_proxies(centres[cluster] + 0.01 * np.random.default_rng(2).normal(size=(40, 16)))
    batches = list(sampler)
    assert sorted(np.concatenate(batches)) == list(range(40))  # still every place once
    assert all(len(set(cluster[b])) == 1 for b in batches)


def test_classification_losses_weights_are_optimised_by_their_own_optimizer(synth_smoke, results_tmp):
    from tests.test_train import smoke_config
    from vpr_lib.train.data import VPRDataModule
    from vpr_lib.train.module import VPRModule
    from vpr_lib.train.run import train
    for loss, kwargs in (("arcface", {"margin": 28.6, "scale": 64}), ("cosface", {"margin": 0.4, "scale": 30})):
        config = smoke_config(synth_smoke, loss=loss, loss_kwargs=kwargs, normalize=True, epochs=1)
        def initial_weights():  # what train() starts from: the same seed, then data module and module
            L.seed_everything(config["seed"], workers=True, verbose=False)
            data = VPRDataModule(config, synth_smoke)
            return VPRModule(config, data.num_classes).loss_fn.W.detach().clone(), data.num_classes
        initial, num_classes = initial_weights()
        assert torch.equal(initial, initial_weights()[0])  # seeded: the run's starting weights are these
        assert initial.shape == (512, num_classes)  # embedding_size × num_classes, from the data
        run_dir = train(config, progress=False)
        state = torch.load(run_dir / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
        assert "loss_optimizer" in state and state["loss_optimizer"]["state"]  # the optimizer took steps
        assert not torch.allclose(state["state_dict"]["loss_fn.W"], initial)


def test_miner_statistics_are_fractions_of_the_batch_candidates():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    desc = torch.nn.functional.normalize(torch.randn(6, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    every_triplet = build_miner("triplet", {"type_of_triplets": "all", "margin": 10.0})(desc, labels)
    assert mined_fractions(every_triplet, labels) == {"mined_triplets": 1.0}  # 6 anchors × 1 pos × 4 neg
    pairs = build_miner("pairmargin", {"pos_margin": 10.0, "neg_margin": -10.0})(desc, labels)  # none kept
    assert mined_fractions(pairs, labels) == {"mined_pos": 0.0, "mined_neg": 0.0}


@pytest.mark.parametrize("name,kwargs,dim", [("convap", {"out_channels": 64, "s1": 2, "s2": 2}, 256),
                                             ("mixvpr", {"out_channels": 64, "out_rows": 4}, 256)])
def test_convap_and_mixvpr_sizes_follow_backbone_and_resolution(name, kwargs, dim):
    for stage, size, feature in (("layer3", (64, 48), (256, 4, 3)), ("layer4", (64, 64), (512, 2, 2))):
        model = VPRModel.from_config(model_config(image_size=list(size), last_stage=stage, aggregator=name,
                                                       aggregator_kwargs=kwargs, normalize=True))
        assert model.feature_shape == feature
        out = model(torch.zeros(2, 3, *size))
        assert out.shape == (2, dim) and torch.allclose(out.norm(dim=1), torch.ones(2))


def test_aggregator_shape_mismatch_names_the_expected_shape():
    mixvpr = build_aggregator("mixvpr", (256, 4, 4))
    with pytest.raises(VPRInputError, match=r"built for feature maps of shape \(B, 256, 4, 4\) and got \(1, 256, 2, 2\)"):
        mixvpr(torch.zeros(1, 256, 2, 2))
