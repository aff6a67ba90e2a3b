"""Every variant of every notebook's `full` profile is built at its real input size and trained for one step
(ResNet-18 to layer4, 224 px; random weights where the ImageNet file is absent), so that nothing a student starts
on a GPU dies of a shape or name error in its first minute."""
import pytest
import torch

from vpr_lib.config import load_params, run_configs, trains
from vpr_lib.data.transforms import BatchAugment
from vpr_lib.config import notebook_paths
from vpr_lib.train.module import VPRModule
from vpr_lib.train.checks import validate
from vpr_lib.settings import TRIPLET_KWARGS


def full_variants():
    for path in notebook_paths():
        params = load_params(path.stem, "full", {"data_root": "/real/data"})
        if not trains(params):  # 00, 03, 12 train nothing
            continue
        for config in run_configs(params):
            if config["seed"] == params["seeds"][0]:
                yield pytest.param(config, id=f"{path.stem[:2]}-{config['variant']}")


def one_batch(config: dict):
    """The smallest batch of the run's sampler, uint8 at the run's input size, as its data module yields it."""
    height, width = config["image_size"]
    if config["sampler"] == "triplets":  # one query × (query, positive, negatives…)
        negatives = {**TRIPLET_KWARGS, **config["sampler_kwargs"]}["negatives"]
        shape, labels = (1, 2 + negatives), torch.arange(2 + negatives)[None]
    else:  # 2 places (or images, for self-supervised views) × K images
        shape, labels = (2, config["img_per_place"]), torch.tensor([[0], [1]]).expand(2, config["img_per_place"])
    images = torch.randint(0, 256, (*shape, 3, height, width), dtype=torch.uint8)
    augment = BatchAugment(config["augment"], config["image_size"])
    return augment(images.flatten(0, 1)).unflatten(0, shape), labels


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")  # no Trainer: one bare step
@pytest.mark.parametrize("config", list(full_variants()))
def test_every_full_variant_trains_one_step(config):
    config = {**config, "pretrained": "none"}  # ImageNet's shapes, random weights: no download in tests
    validate(config)
    torch.manual_seed(0)
    module = VPRModule(config, num_classes=8).train()
    optimizers = module.configure_optimizers()
    optimizer = optimizers["optimizer"] if isinstance(optimizers, dict) else optimizers
    images, labels = one_batch(config)
    out = module.training_step((images, labels), 0)
    assert out["descriptors"].shape == (images.shape[0] * images.shape[1], module.model.descriptor_dim)
    out["loss"].backward()
    optimizer.step()
    if module.loss_optimizer is not None:
        module.loss_optimizer.step()
    assert torch.isfinite(out["loss"]).all()
