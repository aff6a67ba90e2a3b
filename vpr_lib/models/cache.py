"""Frozen-prefix cache: the output of a backbone's frozen prefix for every image of a set, computed once.

A frozen prefix (no gradients, batch norm in eval mode) fed without augmentation gives every image the same
output in every run and epoch that shares its weights and input size. So it is computed once, kept on disk
under data/cache/prefix/ (VPR_DATA relocates it) and in memory, and the runs train only the rest of the model.
The key digests the prefix's weights themselves, the input size and the files (path and content,
vpr_lib.data.identity): other weights, another size or a changed file give another entry, never a stale one. A
torn or unreadable cache file is set aside (renamed `*.torn`, said) and computed again."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from vpr_lib.data.identity import file_digests
from vpr_lib.data.images import decode_once
from vpr_lib.data.transforms import eval_transform
from vpr_lib.paths import data_dir
from vpr_lib.results import atomic_write_bytes, is_torn, remove_stale, set_aside

VERSION = 3  # bump when the way the features are computed changes (2: batch norms folded into the convolutions;
#             3: images decoded upright by their EXIF orientation)
_MEMORY: dict = {}  # key → {path: features}: shared by the runs of one process
MEMORY_SETS = 8  # sets kept in memory (a run reads a training set and up to three test sets)


def cache_applies(config: dict) -> bool:
    """A run config whose frozen prefix is fed without augmentation (and the cache not turned off)."""
    return bool(config["prefix_cache"]) and config["frozen_stages"] > 0 and config["augment"] == "none"


def weights_digest(module: torch.nn.Module) -> str:
    """sha1 of a module's parameters and buffers (names, shapes and values)."""
    h = hashlib.sha1()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def cache_key(backbone, image_size, paths) -> str:
    h = hashlib.sha1(f"v{VERSION} {backbone.name} {backbone.prefix_len} {tuple(image_size)}".encode())
    h.update(weights_digest(backbone.prefix).encode())
    for path, digest in zip(paths, file_digests(paths)):
        h.update(f"{path}\0{digest}\n".encode())
    return h.hexdigest()[:20]


@torch.no_grad()
def _compute(prefix: torch.nn.Module, image_size, paths, batch_size: int) -> torch.Tensor:
    normalise, out = eval_transform(), []
    prefix.eval()
    for start in range(0, len(paths), batch_size):
        images = torch.stack([normalise(decode_once(p, image_size)) for p in paths[start:start + batch_size]])
        out.append(prefix(images.contiguous(memory_format=torch.channels_last)).float().contiguous())
    return torch.cat(out)


def _load(file: Path) -> torch.Tensor | None:
    """A saved cache file, or None when it is torn (set aside as `<name>.torn`, said): it is then computed again."""
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - sorted by is_torn: anything else is raised as it is
        if not is_torn(e):
            raise
        torn = set_aside(file)
        print(f"prefix cache: {file} is torn ({type(e).__name__}): moved to {torn.name}; computing it again",
              flush=True)
        return None


def prefix_features(backbone, image_size, paths, batch_size: int = 128) -> dict:
    """{path: the frozen prefix's output (C, H', W') for that image} for every path (in memory, from disk, or
    computed and saved). `backbone` is a vpr_lib.models.backbones.Backbone with a non-empty prefix."""
    paths = [Path(p) for p in paths]
    key = cache_key(backbone, image_size, paths)
    if key not in _MEMORY:
        folder = data_dir() / "cache" / "prefix"
        remove_stale(folder)  # temporary files of processes killed while writing (large)
        file = folder / f"{backbone.name}-{key}.pt"
        features = _load(file) if file.is_file() else None
        if features is None or len(features) != len(paths):
            features = _compute(backbone.folded("prefix"), image_size, paths, batch_size)  # a copy: modes untouched
            buffer = io.BytesIO()
            torch.save(features, buffer)
            atomic_write_bytes(file, buffer.getvalue())
        if len(_MEMORY) >= MEMORY_SETS:
            _MEMORY.pop(next(iter(_MEMORY)))  # the oldest
        _MEMORY[key] = dict(zip(paths, features))
    return _MEMORY[key]
