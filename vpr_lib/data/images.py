"""Image files: listing a folder, and loading with one clear error for corrupt or truncated files."""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from vpr_lib.data.identity import file_digests
from vpr_lib.errors import VPRInputError
from vpr_lib.paths import data_dir

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
EXIF_ORIENTATION = 0x0112  # 1 upright; 5-8 turned by 90 degrees (width and height swap once upright)
ROTATED = (5, 6, 7, 8)


def require_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise VPRInputError(f"Missing folder: expected {what} at {path}.")
    return path


def is_hidden(path: Path, folder: Path) -> bool:
    """A name starting with '.' (macOS `._x.jpg` resource forks, `.DS_Store`) or a `__MACOSX` folder."""
    return any(part.startswith(".") or part == "__MACOSX" for part in Path(path).relative_to(folder).parts)


def _file_names(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return [e.name for e in entries if e.is_file()]


def list_images(folder: Path, what: str, recursive: bool = False) -> list[Path]:
    """Sorted image files of a folder (hidden files skipped, with one warning that counts them); an error naming
    the folder when there are none."""
    folder = require_dir(folder, what)
    found, paths = 0, []
    for directory, _, names in os.walk(folder) if recursive else [(str(folder), [], _file_names(folder))]:
        hidden = directory != str(folder) and is_hidden(Path(directory), folder)
        for name in names:
            if name.lower().endswith(IMAGE_SUFFIXES):
                found += 1
                if not (hidden or name.startswith(".")):
                    paths.append(Path(directory, name))
    paths.sort()
    if len(paths) < found:
        warnings.warn(f"Skipped {found - len(paths)} hidden image file(s) in {folder} (names starting with '.', "
                      "such as the '._name.jpg' that macOS and Drive add when unzipping): not images of the set.",
                      stacklevel=2)
    if not paths:
        raise VPRInputError(f"No images (*.jpg, *.jpeg, *.png) found in {folder}: expected {what}.")
    return paths


def load_image(path: Path) -> Image.Image:
    """Open and fully decode an RGB image; a corrupt or truncated file raises VPRInputError naming it."""
    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise VPRInputError(f"Cannot read image {path}: corrupt or truncated file ({e}). "
                            "Re-download or delete it.") from None


def load_resized(path: Path, size) -> torch.Tensor:
    """Decode straight to about `size` (JPEG DCT scaling), upright as its EXIF orientation says (a phone's photo
    taken sideways), resize to (H, W): a uint8 (3, H, W) tensor."""
    height, width = size
    try:
        with Image.open(path) as img:
            orientation = img.getexif().get(EXIF_ORIENTATION, 1)
            img.draft("RGB", (height, width) if orientation in ROTATED else (width, height))
            img = ImageOps.exif_transpose(img) if orientation != 1 else img
            img = img.convert("RGB").resize((width, height), Image.BILINEAR)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise VPRInputError(f"Cannot read image {path}: corrupt or truncated file ({e}). "
                            "Re-download or delete it.") from None
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)


def verify_images(paths) -> None:
    """Decode every image once, so that a corrupt or truncated file stops a run before it starts (named).  The same
    files (path and content, vpr_lib.data.identity) verified before are not decoded again: data/cache/verified/
    keeps a marker per verified list."""
    paths = sorted({str(p) for p in paths})
    sha = hashlib.sha1()
    for path, digest in zip(paths, file_digests(paths)):
        sha.update(f"{path}\t{digest}\n".encode())
    marker = data_dir() / "cache" / "verified" / sha.hexdigest()
    if marker.exists():
        return
    for path in paths:
        load_resized(path, (8, 8))  # JPEG decodes at 1/8 scale, but reads the whole file
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


_DECODED: dict = {}  # (path, modification, size) → uint8 tensor: decoded once per process, shared by its runs
_DECODED_BUDGET = {"bytes": 2 << 30, "used": 0}


def decode_once(path: Path, size) -> torch.Tensor:
    """load_resized, memoised for the process within a 2 GB budget (runs of one notebook share the decode)."""
    stat = Path(path).stat()
    # a rewritten file is decoded anew: its change time moves even when its size and modification time are restored
    key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, tuple(size))
    image = _DECODED.get(key)
    if image is None:
        image = load_resized(path, size)
        if _DECODED_BUDGET["used"] + image.numel() <= _DECODED_BUDGET["bytes"]:
            _DECODED[key] = image
            _DECODED_BUDGET["used"] += image.numel()
    return image


class ImageCache:
    """Decoded, resized images kept in memory up to a byte budget; beyond it, decoded each time.

    With a deterministic `transform` (evaluation), the transformed tensors are kept instead, so a
    validation pass costs nothing but the forward. Small sets (SynthCity, the XS sets at low resolution)
    then cost one decode per image per process."""

    def __init__(self, size, max_bytes: int = 1 << 30, transform=None):
        self.size, self.max_bytes, self.transform = tuple(size), max_bytes, transform
        self.used, self.images = 0, {}

    def preload(self, paths) -> bool:
        """Decode every image now (in the main process, so forked loader workers share them);
        True when all of them fit in the cache."""
        for path in paths:
            self(path)
            if path not in self.images:
                return False
        return True

    def __call__(self, path: Path) -> torch.Tensor:
        image = self.images.get(path)
        if image is None:
            image = decode_once(path, self.size)
            if self.transform is not None:
                image = self.transform(image)
            size = image.numel() * image.element_size()
            if self.used + size <= self.max_bytes:
                self.images[path] = image
                self.used += size
        return image
