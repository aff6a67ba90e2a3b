"""Backbones: a torchvision trunk cut after a named stage, its first stages optionally frozen. A registry.

Every backbone names its stages so that `layer1` … `layer4` end at strides 4, 8, 16 and 32 as ResNet's (a trunk
may have more stages between them), so `last_stage: layer3` means a stride-16 map whatever the trunk.
The frozen stages form the `prefix`: no gradients, batch norm in eval mode, so its output per image is fixed
for a given input size and weights (what the prefix cache, vpr_lib.models.cache, stores).  The forward pass runs
the prefix, and in eval mode the rest too, with each batch norm folded into its convolution (`folded`): the same
function in fewer operations, about twice as fast on our CPUs (1.9 times on a Zen 3 EPYC for the demo's prefix:
bench/prefix_cache_speed.py)."""
from __future__ import annotations

import importlib
import pkgutil

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.fx.experimental.optimization import fuse

from vpr_lib.errors import VPRInputError
from vpr_lib.models.backbones.weights import imagenet_state_dict

BODY_PREFIX = "model.backbone.body."  # where a run checkpoint keeps the backbone


@dataclass(frozen=True)
class BackboneSpec:
    """A registered trunk: its torchvision constructor, ImageNet weights (a torchvision weights enum) and
    `stages(model) -> {stage name: [modules]}` in forward order."""
    build: Callable[[], nn.Module]
    weights: object
    stages: Callable[[nn.Module], dict]


BACKBONES: dict[str, BackboneSpec] = {}


def register(name: str, spec: BackboneSpec) -> None:
    BACKBONES[name] = spec


def stage_names(name: str) -> list[str]:
    """The stage names of backbone `name`, in order."""
    spec = BACKBONES[name]
    return list(spec.stages(spec.build()))


def weights_file(pretrained: str | None) -> Path | None:
    """The file a `pretrained` value names (None for 'none' and 'imagenet', which torchvision names by its hash);
    a path that is not a file stops here."""
    if pretrained in ("none", "imagenet", "", None):
        return None
    path = Path(pretrained)
    if not path.is_file():
        raise VPRInputError(f"pretrained: expected 'none', 'imagenet', a path to backbone weights (.pth) or to a "
                            f"run's checkpoint (.ckpt); {path} does not exist.")
    return path


def _load_weights(name: str, spec: BackboneSpec, model: nn.Module, pretrained: str):
    """Initial weights into the whole torchvision model; a run checkpoint's backbone weights are returned
    instead (they fit the cut body, loaded after cutting)."""
    if pretrained == "imagenet":
        model.load_state_dict(imagenet_state_dict(spec.weights, name))
        return None
    path = weights_file(pretrained)
    if path is None:
        return None
    if path.suffix == ".ckpt":  # a run of this kit: its backbone's weights
        state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
        return {k[len(BODY_PREFIX):]: v for k, v in state.items() if k.startswith(BODY_PREFIX)}
    state = torch.load(path, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(("fc.", "classifier.")) for k in missing):  # the classifier may be absent
        raise VPRInputError(f"{path} is not a {name} state dict (missing {missing[:3]}…, unexpected {unexpected[:3]}…).")
    return None


class Backbone(nn.Module):
    """Feature maps (B, C, H', W') of trunk `name` cut after `last_stage`; the first `frozen_stages` stages
    are frozen and form `prefix`, the rest (`rest`) trains."""

    def __init__(self, name: str = "resnet18", last_stage: str = "layer4", pretrained: str = "none",
                 frozen_stages: int = 0):
        super().__init__()
        if name not in BACKBONES:
            raise VPRInputError(f"Unknown backbone {name!r}; expected one of {sorted(BACKBONES)}.")
        spec = BACKBONES[name]
        model = spec.build()
        body_state = _load_weights(name, spec, model, pretrained)
        stages = spec.stages(model)
        names = list(stages)
        if last_stage not in stages:
            raise VPRInputError(f"backbone {name}: last_stage {last_stage!r} unknown; expected one of {names}.")
        kept = names[: names.index(last_stage) + 1]
        if not 0 <= frozen_stages <= len(kept):
            raise VPRInputError(f"frozen_stages={frozen_stages}: {name} cut after {last_stage} has {len(kept)} stages "
                                f"({kept}); expected 0 to {len(kept)}.")
        self.name, self.last_stage, self.frozen_stages = name, last_stage, frozen_stages
        self.body = nn.Sequential(*[m for stage in kept for m in stages[stage]])
        self.prefix_len = sum(len(stages[stage]) for stage in kept[:frozen_stages])
        if body_state is not None:
            try:
                missing, _ = self.body.load_state_dict(body_state, strict=False)
            except RuntimeError as e:  # another trunk's shapes
                raise VPRInputError(f"{pretrained} does not hold {name} weights: {str(e).splitlines()[1:2]}") from None
            if missing:  # a checkpoint cut earlier than this backbone (layer3 weights for a layer4 model)
                owner = [stage for stage in kept for _ in stages[stage]]  # body module index -> its stage
                absent = sorted({owner[int(k.split(".")[0])] for k in missing})
                raise VPRInputError(f"{pretrained} has no weights for {absent} of this {name} backbone (cut after "
                                    f"{last_stage}); use a checkpoint with as many stages.")
        self.prefix.requires_grad_(False)
        self.prefix.eval()
        self._folds = {}  # "prefix" / "rest" -> (key, the part with its batch norms folded): see folded()

    @property
    def prefix(self) -> nn.Sequential:
        """The frozen stages (empty when none is frozen)."""
        return self.body[: self.prefix_len]

    @property
    def rest(self) -> nn.Sequential:
        """The stages that train, applied to the prefix's output."""
        return self.body[self.prefix_len:]

    def train(self, mode: bool = True):
        """Frozen stages stay in eval mode: their batch-norm statistics are kept, not re-estimated."""
        super().train(mode)
        self.prefix.eval()
        self._folds.pop("rest", None)  # the trainable stages change between two evaluations
        return self

    def folded(self, part: str) -> nn.Module:
        """`prefix` or `rest` (in eval mode) with each batch norm folded into the convolution before it (torch.fx's
        fuse): the same function up to float rounding, in fewer operations.  Built on first use, and again when
        one of the part's tensors changed (loaded or trained weights, another device or dtype)."""
        module = getattr(self, part)
        key = tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in module.state_dict(keep_vars=True).values())
        if self._folds.get(part, (None,))[0] != key:
            with torch.no_grad():
                self._folds[part] = (key, fuse(module).to(memory_format=torch.channels_last))
        return self._folds[part][1]

    def forward_rest(self, x):
        """The trainable stages on the prefix's output: as they are while training, folded in eval mode."""
        return self.folded("rest")(x) if not self.training and len(self.rest) else self.rest(x)

    def forward(self, x):
        return self.forward_rest(self.folded("prefix")(x) if self.prefix_len else x)

    @torch.no_grad()
    def output_shape(self, image_size: tuple, module: nn.Module | None = None) -> tuple:
        """(C, H', W') of `module` (default: the whole body) for an input of (H, W), by a forward pass."""
        was_training = self.training
        self.eval()
        shape = tuple((module if module is not None else self.body)(torch.zeros(1, 3, *image_size)).shape[1:])
        self.train(was_training)
        return shape


# every module of this package registers itself: adding one is adding a file
for _module in sorted(pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module.name}")
