"""Retrieval sets (SF-XS val/test, Tokyo-XS): `<split>/database` and `<split>/queries`.

Images are indexed database first, then queries.  UTM east/north come from the file names;
positives are the database images within `positive_dist_threshold` metres (radius search), as in
the reference codebases.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.neighbors import NearestNeighbors
from torch.utils.data import Dataset

from vpr_lib.data.images import ImageCache, list_images, load_image, require_dir
from vpr_lib.data.names import parse_name
from vpr_lib.errors import VPRInputError


def utm_of(paths) -> np.ndarray:
    """(N, 2) UTM east/north parsed from the file names."""
    return np.array([(n.east, n.north) for n in map(parse_name, paths)], dtype=np.float64).reshape(-1, 2)


class RetrievalDataset(Dataset):
    """Database + queries of one split; item i is (image, i), database images first.

    With `image_size`, images are decoded at that size and `transform` (deterministic: evaluation) applied,
    the results cached in memory within `cache_bytes`; without it, items hold PIL images."""

    def __init__(self, split_dir, positive_dist_threshold: float = 25.0, transform=None, image_size=None,
                 cache_bytes: int = 1 << 30):
        self.root = require_dir(split_dir, "a retrieval split folder containing database/ and queries/")
        self.name = "/".join(self.root.parts[-2:])
        self.database_paths = list_images(self.root / "database", f"the database images of {self.root}")
        self.queries_paths = list_images(self.root / "queries", f"the query images of {self.root}")
        self.database_utms = utm_of(self.database_paths)
        self.queries_utms = utm_of(self.queries_paths)
        self.threshold = float(positive_dist_threshold)
        self.positives_per_query = self.positives_within(self.threshold)
        n_without = sum(len(p) == 0 for p in self.positives_per_query)
        if n_without == len(self.queries_paths):
            raise VPRInputError(
                f"No query of {self.root} has a database image within {self.threshold:g} m: the database and "
                "queries do not overlap (wrong folders, or UTM fields from different zones?).")
        if n_without:
            warnings.warn(f"{n_without} of {self.queries_num} queries of {self.root} have no positive within "
                          f"{self.threshold:g} m; they count as failures.", stacklevel=2)
        self.images_paths = self.database_paths + self.queries_paths
        self.transform = transform
        self.loader = ImageCache(image_size, cache_bytes, transform) if image_size else load_image
        self.fully_cached = False  # set by preload(): then loader workers are not worth their start-up

    def positives_within(self, threshold: float) -> list[np.ndarray]:
        """Per query, the sorted database indices within `threshold` metres."""
        knn = NearestNeighbors(n_jobs=1).fit(self.database_utms)
        found = knn.radius_neighbors(self.queries_utms, radius=threshold, return_distance=False)
        return [np.sort(p) for p in found]

    @property
    def paths(self) -> list:
        return self.images_paths

    def use_features(self, features: dict) -> None:
        """Serve `features[path]` (a frozen prefix's cached output) instead of decoding the images."""
        self.loader, self.transform, self.fully_cached = features.__getitem__, None, True

    def preload(self) -> None:
        """Decode all images into the cache now (no-op without image_size)."""
        if isinstance(self.loader, ImageCache):
            self.fully_cached = self.loader.preload(self.images_paths)

    @property
    def database_num(self) -> int:
        return len(self.database_paths)

    @property
    def queries_num(self) -> int:
        return len(self.queries_paths)

    def __len__(self) -> int:
        return len(self.images_paths)

    def __getitem__(self, index):
        image = self.loader(self.images_paths[index])
        if self.transform is not None and not isinstance(self.loader, ImageCache):
            image = self.transform(image)
        return image, index

    def __repr__(self) -> str:
        return f"<{self.name} - #database: {self.database_num}; #queries: {self.queries_num}>"
