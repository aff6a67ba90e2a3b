"""Training sets organised by place: GSV-XS (`<train>/<city>/*.jpg`, '@' names) and the original
GSV-Cities layout (`Dataframes/<City>.csv` + `Images/<City>/…`).

Each item is K images of one place, sampled without replacement, with the place's label;
labels are contiguous 0..N-1 and each label keeps its city (for hierarchical sampling).
"""
from __future__ import annotations

import logging
import random
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import Dataset

from vpr_lib.data.images import ImageCache, is_hidden, list_images, load_image, require_dir
from vpr_lib.data.names import parse_name
from vpr_lib.errors import VPRInputError

log = logging.getLogger(__name__)


def scan_gsv_xs(train_dir) -> pd.DataFrame:
    """(path, place, city) for every image of a GSV-XS train folder; place = the name's note field."""
    train_dir = require_dir(train_dir, "a GSV-XS train folder with one sub-folder per city")
    cities = sorted(p for p in train_dir.iterdir() if p.is_dir() and not is_hidden(p, train_dir))
    if not cities:
        raise VPRInputError(f"No city folders in {train_dir}: expected <train>/<city>/*.jpg (e.g. gsv_xs/train/osaka/).")
    rows = []
    for city in cities:
        for path in list_images(city, f"the images of city {city.name}"):
            place = parse_name(path).note
            if not place:
                raise VPRInputError(f"Malformed file name {path}: the note field (14th '@' field, the place id, "
                                    "e.g. '3183_Osaka') is empty.")
            rows.append((path, place, city.name))
    return pd.DataFrame(rows, columns=["path", "place", "city"])


def scan_gsv_cities(root, cities=None) -> pd.DataFrame:
    """(path, place, city) from the original GSV-Cities layout; place ids made unique across cities."""
    root = Path(root)
    frames_dir = require_dir(root / "Dataframes", "GSV-Cities' Dataframes/<City>.csv")
    csvs = sorted(frames_dir.glob("*.csv"))
    if cities:
        csvs = [c for c in csvs if c.stem in set(cities)]
    if not csvs:
        raise VPRInputError(f"No <City>.csv in {frames_dir}" + (f" for cities {cities}" if cities else "") + ".")
    rows = []
    for index, csv in enumerate(csvs):
        df = pd.read_csv(csv)
        missing = {"place_id", "year", "month", "northdeg", "lat", "lon", "panoid"} - set(df.columns)
        if missing:
            raise VPRInputError(f"{csv} lacks columns {sorted(missing)}; expected place_id, year, month, northdeg, "
                                "city_id, lat, lon, panoid.")
        city = csv.stem
        for r in df.itertuples(index=False):
            name = (f"{city}_{int(r.place_id):07d}_{int(r.year):04d}_{int(r.month):02d}_{int(r.northdeg):03d}_"
                    f"{r.lat}_{r.lon}_{r.panoid}.jpg")
            rows.append((root / "Images" / city / name, f"{index * 10**5 + int(r.place_id)}", city))
    table = pd.DataFrame(rows, columns=["path", "place", "city"])
    absent = [p for p in table.path.iloc[:: max(1, len(table) // 50)] if not p.exists()]
    if absent:
        raise VPRInputError(f"GSV-Cities image listed in the dataframes is missing: {absent[0]} "
                            "(expected Images/<City>/<City>_<place 7 digits>_<year>_<month>_<bearing>_<lat>_<lon>_<panoid>.jpg).")
    return table


class PlacesDataset(Dataset):
    """Item i = (K images of place i stacked as a (K, C, H, W) tensor, K labels).

    With `image_size`, images are decoded at that size (and cached in memory within `cache_bytes`), then
    `transform` applies; without it, items hold PIL images (for viewing)."""

    def __init__(self, table: pd.DataFrame, img_per_place: int = 4, min_img_per_place: int = 4, transform=None,
                 source: str = "", image_size=None, cache_bytes: int = 1 << 30):
        counts = table.groupby("place").size()
        kept = counts[counts >= min_img_per_place].index
        self.dropped_places = int(len(counts) - len(kept))
        self.source = source
        table = table[table.place.isin(kept)].sort_values(["place", "path"]).reset_index(drop=True)
        if table.empty:
            raise VPRInputError(f"No place of {source or 'the training set'} has {min_img_per_place}+ images "
                                f"({len(counts)} places found): lower min_img_per_place or check the data.")
        self.place_names = sorted(kept)
        self.place_paths = [list(g.path) for _, g in table.groupby("place", sort=True)]
        smallest = min(range(len(self.place_paths)), key=lambda i: len(self.place_paths[i]))
        if img_per_place > len(self.place_paths[smallest]):
            raise VPRInputError(
                f"img_per_place K={img_per_place} is larger than the {len(self.place_paths[smallest])} images of place "
                f"{self.place_names[smallest]!r} in {source}: use K <= min_img_per_place ({min_img_per_place}).")
        self.place_city = [g.city.iloc[0] for _, g in table.groupby("place", sort=True)]
        self.img_per_place = img_per_place
        self.transform = transform
        self.loader = ImageCache(image_size, cache_bytes) if image_size else load_image
        self.fully_cached = False  # set by preload(): then loader workers are not worth their start-up
        self.n_images = len(table)
        if self.dropped_places:
            log.info("%s: dropped %d places with fewer than %d images", source, self.dropped_places, min_img_per_place)

    @classmethod
    def from_folder(cls, root, **kwargs) -> "PlacesDataset":
        """GSV-XS train folder, or GSV-Cities root (detected by its Dataframes/ folder)."""
        root = Path(root)
        if (root / "Dataframes").is_dir():
            return cls(scan_gsv_cities(root), source=str(root), **kwargs)
        return cls(scan_gsv_xs(root), source=str(root), **kwargs)

    def use_features(self, features: dict) -> None:
        """Serve `features[path]` (a frozen prefix's cached output) instead of decoding the images."""
        self.loader, self.transform, self.fully_cached = features.__getitem__, None, True

    @property
    def paths(self) -> list:
        return [p for paths in self.place_paths for p in paths]

    def preload(self) -> None:
        """Decode all images into the cache now (no-op without image_size)."""
        if isinstance(self.loader, ImageCache):
            self.fully_cached = self.loader.preload(self.paths)

    @property
    def labels(self) -> list[int]:
        return list(range(len(self.place_paths)))

    def __len__(self) -> int:
        return len(self.place_paths)

    def __getitem__(self, label: int):
        paths = random.sample(self.place_paths[label], self.img_per_place)
        images = [self.loader(p) for p in paths]
        if self.transform is not None:
            images = [self.transform(img) for img in images]
        if isinstance(images[0], torch.Tensor):
            images = torch.stack(images)
        return images, torch.full((self.img_per_place,), label, dtype=torch.long)

    def __repr__(self) -> str:
        return (f"<PlacesDataset {self.source}: {len(self)} places, {self.n_images} images, "
                f"{len(set(self.place_city))} cities, {self.dropped_places} places dropped>")
