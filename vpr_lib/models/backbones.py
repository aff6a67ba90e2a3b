"""ResNet-18 backbone from torchvision: cropped after layer3 or layer4, early stages optionally frozen."""
from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from vpr_lib.errors import VPRInputError

STAGES = ("conv1", "layer1", "layer2", "layer3", "layer4")
BODY_PREFIX = "model.backbone.body."  # where a run checkpoint keeps the backbone


def _imagenet_state_dict() -> dict:
    """torchvision's ImageNet weights from the local cache, downloaded when missing and online."""
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    try:
        return weights.get_state_dict(progress=False, check_hash=False)
    except OSError as e:  # URLError, socket errors: no network and no cached file
        raise VPRInputError(
            f"pretrained: imagenet needs torchvision's ResNet-18 weights, which are not cached at {cache} and "
            f"could not be downloaded ({e}). Download {weights.url} on a machine with internet and copy it to "
            f"{cache} (or set TORCH_HOME), or pass pretrained: <path to a .pth state dict>, or pretrained: none."
        ) from None


class ResNetBackbone(nn.Module):
    """Feature maps (B, C, H', W') of a ResNet-18 cut after `last_stage`."""

    def __init__(self, last_stage: str = "layer4", pretrained: str = "none", frozen_stages: int = 0):
        super().__init__()
        if last_stage not in ("layer3", "layer4"):
            raise VPRInputError(f"backbone last_stage {last_stage!r} unknown; expected 'layer3' or 'layer4'.")
        resnet = torchvision.models.resnet18(weights=None)
        if pretrained == "imagenet":
            resnet.load_state_dict(_imagenet_state_dict())
        body_state = None
        if pretrained not in ("none", "imagenet", None, ""):
            path = Path(pretrained)
            if not path.is_file():
                raise VPRInputError(f"pretrained: expected 'none', 'imagenet', a path to ResNet-18 weights (.pth) "
                                    f"or to a run's checkpoint (.ckpt); {path} does not exist.")
            if path.suffix == ".ckpt":  # a run of this kit: its backbone's weights
                state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
                body_state = {k[len(BODY_PREFIX):]: v for k, v in state.items() if k.startswith(BODY_PREFIX)}
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
                missing, unexpected = resnet.load_state_dict(state, strict=False)
                if len(missing) > 2 or unexpected:  # fc.* may be absent
                    raise VPRInputError(f"{path} is not a ResNet-18 state dict (missing {missing[:3]}…, "
                                        f"unexpected {unexpected[:3]}…).")
        keep = STAGES[: STAGES.index(last_stage) + 1]
        modules = [resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool]
        modules += [getattr(resnet, s) for s in keep[1:]]
        self.body = nn.Sequential(*modules)
        if body_state is not None:
            missing, unexpected = self.body.load_state_dict(body_state, strict=False)
            if missing:  # a checkpoint cut earlier than this backbone (layer3 weights for a layer4 model)
                names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
                absent = sorted({names[int(k.split('.')[0])] for k in missing})
                raise VPRInputError(f"{pretrained} has no weights for {absent} "
                                    f"of this backbone (cut after {last_stage}); use a checkpoint with as many stages.")
        self._frozen = [m for stage in keep[:frozen_stages]
                        for m in ((resnet.conv1, resnet.bn1) if stage == "conv1" else (getattr(resnet, stage),))]
        for module in self._frozen:
            module.requires_grad_(False)

    def train(self, mode: bool = True):
        """Frozen stages stay in eval mode: their batch-norm statistics are kept, not re-estimated."""
        super().train(mode)
        for module in self._frozen:
            module.eval()
        return self

    def forward(self, x):
        return self.body(x)

    @torch.no_grad()
    def output_shape(self, image_size: tuple) -> tuple:
        """(C, H', W') for an input of (H, W), computed by a forward pass, never typed by hand."""
        was_training = self.training
        self.eval()
        shape = tuple(self(torch.zeros(1, 3, *image_size)).shape[1:])
        self.train(was_training)
        return shape
