"""Offline triplet mining (data/triplets.py): SynthCity's SF-XS train split, the mined triplets' geometry, the
hardest negatives, batch structure, and the parameter checks."""
import numpy as np
import pytest
import torch
from conftest import SF_VAL_DB, write_jpeg

from vpr_lib.data.triplets import MinedTripletBatches, TripletsDataset, triplet_indices
from vpr_lib.errors import VPRInputError
from vpr_lib.train.checks import validate
from vpr_lib.settings import TRAIN_DEFAULTS, TRAIN_PROFILES


@pytest.fixture(scope="module")
def triplets(synth_smoke):
    return TripletsDataset(synth_smoke / "sf_xs/train", (32, 32), train_positives_m=10, negatives_beyond_m=25)


def utm_describe(triplets):
    """Descriptors = UTM positions (an oracle model): the hardest negatives are the nearest ones on the map."""
    utms = np.concatenate([triplets.split.database_utms, triplets.split.queries_utms])
    origin = utms.min(0)
    return lambda ids: (utms[np.asarray(ids)] - origin).astype(np.float32)


def distances(triplets, query, others):
    utms = np.concatenate([triplets.split.database_utms, triplets.split.queries_utms])
    return np.hypot(*(utms[list(others)] - utms[query]).T)


def test_synthcity_writes_a_mining_split_in_the_real_layout(synth_smoke, triplets):
    assert (synth_smoke / "sf_xs/train/database").is_dir() and (synth_smoke / "sf_xs/train/queries").is_dir()
    assert len(triplets) > 0 and len(triplets) + triplets.dropped_queries == triplets.split.queries_num
    image, index = triplets[0]
    assert image.shape == (1, 3, 32, 32) and image.dtype == torch.uint8 and index.tolist() == [0]


@pytest.mark.parametrize("mining", ["random", "full", "partial"])
@pytest.mark.parametrize("radius", [10, 50])
def test_positives_are_within_the_radius_and_negatives_beyond_it(synth_smoke, mining, radius):
    data = TripletsDataset(synth_smoke / "sf_xs/train", (16, 16), train_positives_m=radius, negatives_beyond_m=25)
    batches = MinedTripletBatches(data, utm_describe(data), mining, queries_per_batch=3, queries_per_epoch=12,
                                  cache_refresh=6, negatives=10, neg_samples=40)
    produced = list(batches)
    assert len(produced) == len(batches) == 4 and all(len(batch) == 3 for batch in produced)
    for batch in produced:
        for query, positive, *negatives in batch:
            assert query >= data.database_num and positive < data.database_num and len(negatives) == 10
            assert distances(data, query, [positive])[0] <= radius
            assert distances(data, query, negatives).min() > max(radius, 25)
    assert batches.mining_seconds > 0
    # what mining costs: full describes the whole database at each of the 2 refreshes, partial 40 of it (and
    # the positives: at 50 m they cover most of the smoke database)
    if mining == "full":
        assert batches.described_images == 2 * (data.database_num + 6)
    if mining == "partial" and radius == 10:
        assert batches.described_images < 2 * data.database_num


def test_full_mining_takes_the_hardest_negatives_and_the_best_positive(triplets):
    describe = utm_describe(triplets)
    batches = MinedTripletBatches(triplets, describe, "full", queries_per_batch=2, queries_per_epoch=4,
                                  cache_refresh=4, negatives=5)
    rng = np.random.default_rng(0)
    for query, positive, *negatives in batches.mine(np.arange(4), rng):
        q = query - triplets.database_num
        far = np.setdiff1d(np.arange(triplets.database_num), triplets.not_negatives[q])
        d_far = distances(triplets, query, far)
        assert sorted(distances(triplets, query, negatives)) == pytest.approx(np.sort(d_far)[:5])
        assert distances(triplets, query, [positive])[0] == pytest.approx(
            distances(triplets, query, triplets.positives[q]).min())


def test_a_triplet_item_stacks_its_images_and_the_loss_gets_those_triplets(triplets):
    rng = np.random.default_rng(0)
    mined = MinedTripletBatches(triplets, utm_describe(triplets), "random", 2, 4, 4, negatives=3).mine(np.arange(2), rng)
    images, indices = triplets[mined[0]]
    assert images.shape == (5, 3, 32, 32) and indices.tolist() == list(mined[0])
    anchors, positives, negatives = triplet_indices(2, 5)
    assert anchors.tolist() == [0, 0, 0, 5, 5, 5] and positives.tolist() == [1, 1, 1, 6, 6, 6]
    assert negatives.tolist() == [2, 3, 4, 7, 8, 9]


def test_the_same_seed_and_epoch_mine_the_same_triplets(triplets):
    make = lambda: MinedTripletBatches(triplets, utm_describe(triplets), "partial", 2, 8, 4, neg_samples=30, seed=3)
    assert list(make()) == list(make())


def config(**changes):
    return {**TRAIN_DEFAULTS, **TRAIN_PROFILES["smoke"], "profile": "smoke", "seed": 0, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"mining": "hardest"}, r"Unknown mining 'hardest'"),
    ({"mining": "full"}, r"act only with sampler: triplets"),
    ({"sampler": "triplets", "miner": "batchhard"}, r"miner none \(got 'batchhard'\)"),
    ({"sampler": "triplets", "loss": "arcface"}, r"pair or triplet loss \(got 'arcface'\)"),
    ({"sampler": "triplets", "sampler_kwargs": {"negative": 10}}, r"\['negative'\] unknown"),
])
def test_bad_mining_parameters_stop_with_a_message(changes, message):
    with pytest.raises(VPRInputError, match=message):
        validate(config(**changes))


def test_a_training_split_without_queries_is_named(tmp_path):
    write_jpeg(tmp_path / "sf_xs/train/database" / SF_VAL_DB)
    with pytest.raises(VPRInputError, match=r"sf_xs/train/queries"):
        TripletsDataset(tmp_path / "sf_xs/train", (16, 16))
