"""How training batches are formed.  Every sampler yields batches of P places × K images (labels = places):

- `pk`: P random places, K random images of each (GSV-Cities' place-level batches, the default);
- `mperclass`: pytorch-metric-learning's MPerClassSampler over single images (m = K per place);
- `hierarchical`: pytorch-metric-learning's HierarchicalSampler: each batch draws its places from two cities;
- `proxy`: places whose proxies (mean descriptor over the last epoch) are nearest neighbours share a batch
  (Global Proxy-based hard Mining, Ali-bey et al., arXiv 2302.14217); the first epoch is random;
- `self_supervised`: P random *images*, each K times (K augmented views); the label is the image's own
  identity, so no place label is used (course step 6c).  Same batch shape and count as `pk`.
"""
from __future__ import annotations

import numpy as np
import torch
from pytorch_metric_learning.samplers import HierarchicalSampler, MPerClassSampler
from torch.utils.data import Dataset, Sampler

from vpr_lib.errors import VPRInputError


class PlaceImages(Dataset):
    """The images of a PlacesDataset one by one: item j = (image, place label).  For image-level samplers."""

    def __init__(self, places):
        self.places = places
        self.paths = [p for paths in places.place_paths for p in paths]
        self.labels = np.repeat(np.arange(len(places)), [len(p) for p in places.place_paths])
        cities = {c: i for i, c in enumerate(sorted(set(places.place_city)))}
        self.cities = np.array([cities[c] for c in places.place_city])[self.labels]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        image = self.places.loader(self.paths[index])
        if self.places.transform is not None:
            image = self.places.transform(image)
        return image, torch.tensor(int(self.labels[index]))


class ImageIdentities(PlaceImages):
    """Item j = (image j, j): every image is its own class, for self-supervised training."""

    def __getitem__(self, index: int):
        return super().__getitem__(index)[0], torch.tensor(index)


class ViewsBatchSampler(Sampler):
    """Batches of P random image indices, each repeated K times (its K views); as many batches as `pk` makes."""

    def __init__(self, num_images: int, images_per_batch: int, views: int, num_batches: int):
        self.num_images, self.images_per_batch, self.views, self.num_batches = num_images, images_per_batch, views, num_batches

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self):
        order = torch.randperm(self.num_images)[: self.num_batches * self.images_per_batch]
        for batch in order.view(self.num_batches, self.images_per_batch):
            yield batch.repeat_interleave(self.views).tolist()


class ProxyBatchSampler(Sampler):
    """Batches of P place indices; after `set_proxies`, each batch is a place and its nearest unused places."""

    def __init__(self, num_places: int, places_per_batch: int, neighbours: int | None = None):
        self.num_places, self.places_per_batch = num_places, places_per_batch
        self.neighbours = neighbours or 2 * places_per_batch
        self.proxies: np.ndarray | None = None

    def set_proxies(self, proxies: np.ndarray) -> None:
        """(num_places, D) mean descriptors; rows of places not seen in the epoch are NaN."""
        if proxies.shape[0] != self.num_places:
            raise ValueError(f"expected proxies for {self.num_places} places, got {proxies.shape[0]}")
        self.proxies = proxies

    def __len__(self) -> int:
        return self.num_places // self.places_per_batch

    def __iter__(self):
        order = torch.randperm(self.num_places).numpy()
        if self.proxies is None:
            batches = order[: len(self) * self.places_per_batch].reshape(len(self), -1)
            yield from (b.tolist() for b in batches)
            return
        yield from self._hard_batches(order)

    def _hard_batches(self, order: np.ndarray):
        import faiss  # noqa: PLC0415 (only this sampler needs it)
        proxies = np.nan_to_num(self.proxies.astype(np.float32))
        faiss.normalize_L2(proxies)
        index = faiss.IndexFlatIP(proxies.shape[1])
        index.add(proxies)
        _, knn = index.search(proxies, min(self.neighbours + 1, self.num_places))
        used = np.zeros(self.num_places, bool)
        spare = iter(order)
        for _ in range(len(self)):
            anchor = next(i for i in spare if not used[i])
            batch = [anchor] + [int(j) for j in knn[anchor] if j != anchor and not used[j]]
            batch = batch[: self.places_per_batch]
            used[batch] = True
            while len(batch) < self.places_per_batch:  # neighbours used up: fill with random unused places
                extra = next(i for i in spare if not used[i])
                used[extra] = True
                batch.append(int(extra))
            yield [int(i) for i in batch]


def image_batch_sampler(name: str, images: PlaceImages, places_per_batch: int, img_per_place: int,
                        kwargs: dict | None = None):
    """pytorch-metric-learning's image-level samplers, as batch samplers of P × K images."""
    kwargs = dict(kwargs or {})
    batch_size = places_per_batch * img_per_place
    if name == "mperclass":
        options = {"length_before_new_iter": len(images)}
    else:  # hierarchical: as many batches per pair of cities as keep an epoch about one pass over the images
        pairs = len(set(images.cities)) * (len(set(images.cities)) - 1) // 2
        options = {"batches_per_super_tuple": max(1, round(len(images) / batch_size / max(pairs, 1))),
                   "super_classes_per_batch": 2}
    unknown = set(kwargs) - set(options)
    if unknown:
        raise VPRInputError(f"Unknown sampler_kwargs {sorted(unknown)} for sampler {name!r}; expected {sorted(options)}.")
    options.update(kwargs)
    if name == "mperclass":
        sampler = MPerClassSampler(images.labels, m=img_per_place, batch_size=batch_size, **options)
        return torch.utils.data.BatchSampler(sampler, batch_size, drop_last=True)
    if len(set(images.cities)) < options["super_classes_per_batch"]:
        raise VPRInputError(f"sampler hierarchical draws each batch from {options['super_classes_per_batch']} "
                            f"cities; the training set has {len(set(images.cities))}.")
    labels = np.stack([images.labels, images.cities], axis=1)
    return HierarchicalSampler(labels, batch_size, samples_per_class=img_per_place, **options)
