"""Image files: listing a folder, and loading with one clear error for corrupt or truncated files."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from vpr_lib.errors import VPRInputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def require_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise VPRInputError(f"Missing folder: expected {what} at {path}.")
    return path


def list_images(folder: Path, what: str, recursive: bool = False) -> list[Path]:
    """Sorted image files of a folder; an error naming the folder when there are none."""
    folder = require_dir(folder, what)
    pattern = "**/*" if recursive else "*"
    paths = sorted(p for p in folder.glob(pattern) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise VPRInputError(f"No images (*.jpg, *.png) found in {folder}: expected {what}.")
    return paths


def load_image(path: Path) -> Image.Image:
    """Open and fully decode an RGB image; a corrupt or truncated file raises VPRInputError naming it."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise VPRInputError(f"Cannot read image {path}: corrupt or truncated file ({e}). "
                            "Re-download or delete it.") from None


def verify_images(paths) -> None:
    """Decode every image once (slow on big sets); raises on the first unreadable file."""
    for path in paths:
        load_image(path)
