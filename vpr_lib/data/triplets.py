"""Offline triplet mining on a database/queries training split (SF-XS train), as the deep geo-localization
benchmark does it: each query goes with its best positive and its hardest negatives, mined with the current
model from a cache that is refreshed every `cache_refresh` queries.

- positives: database images within `train_positives_m` metres of the query (10 m in the benchmark);
- negatives: database images farther than `negatives_beyond_m` (the evaluation's 25 m) and than the positives;
- mining: `random` (random negatives; the best positive still comes from descriptors), `full` (hardest among
  the whole database) or `partial` (hardest among `neg_samples` database images drawn at each refresh).
"""
from __future__ import annotations

import time
import warnings

import faiss
import numpy as np
import torch
from torch.utils.data import Dataset

from vpr_lib.data.retrieval import RetrievalDataset
from vpr_lib.errors import VPRInputError

MININGS = ("random", "full", "partial")


class TripletsDataset(Dataset):
    """The queries of a database/queries split that have a positive, with their images (uint8, cached).

    Item `i` (an int) is query i alone, as (1, C, H, W); an item `(query, positive, *negatives)` of split indices
    (database first, then queries: `query_index(i)`) is that triplet, as (2 + N, C, H, W) and its indices."""

    def __init__(self, split_dir, image_size, train_positives_m: float = 10.0, negatives_beyond_m: float = 25.0):
        with warnings.catch_warnings():  # queries without a positive are left out below, not counted as failures
            warnings.simplefilter("ignore")
            self.split = RetrievalDataset(split_dir, train_positives_m, image_size=image_size)
        self.positives = self.split.positives_per_query
        self.not_negatives = self.split.positives_within(max(train_positives_m, negatives_beyond_m))
        self.train_positives_m, self.negatives_beyond_m = float(train_positives_m), float(negatives_beyond_m)
        self.queries = np.array([q for q, p in enumerate(self.positives) if len(p)])
        self.dropped_queries = self.split.queries_num - len(self.queries)

    @property
    def database_num(self) -> int:
        return self.split.database_num

    def query_index(self, i: int) -> int:
        """The split index (database first) of usable query i."""
        return self.database_num + int(self.queries[i])

    def image(self, index: int) -> torch.Tensor:
        return self.split[index][0]

    @property
    def paths(self) -> list:
        return self.split.paths

    def use_features(self, features: dict) -> None:
        self.split.use_features(features)

    def preload(self) -> None:
        self.split.preload()

    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, item):
        if isinstance(item, (tuple, list)):
            return torch.stack([self.image(i) for i in item]), torch.as_tensor(item)
        return self.image(self.query_index(item))[None], torch.as_tensor([item])


def triplet_indices(batch_size: int, per_query: int, device=None) -> tuple:
    """(anchors, positives, negatives) of a flattened batch of `batch_size` × (query, positive, negatives…)."""
    starts = torch.arange(batch_size, device=device) * per_query
    negatives = per_query - 2
    anchors = starts.repeat_interleave(negatives)
    return anchors, anchors + 1, (starts[:, None] + 2 + torch.arange(negatives, device=device)).flatten()


class MinedTripletBatches:
    """Batch sampler yielding triplets (tuples of split indices), mined chunk by chunk with `describe`
    (split indices → L2 descriptors of the current model).  `mining_seconds` and `described_images` hold the
    current epoch's cost: seconds, and images passed through the model to mine."""

    def __init__(self, triplets: TripletsDataset, describe, mining: str = "partial", queries_per_batch: int = 4,
                 queries_per_epoch: int = 5000, cache_refresh: int = 1000, negatives: int = 10,
                 neg_samples: int = 1000, seed: int = 0, epoch=lambda: 0):
        if mining not in MININGS:
            raise VPRInputError(f"Unknown mining {mining!r}; expected one of {list(MININGS)}.")
        self.triplets, self.describe, self.mining = triplets, describe, mining
        self.batch, self.negatives, self.neg_samples = queries_per_batch, negatives, neg_samples
        self.per_epoch = min(queries_per_epoch, len(triplets)) // queries_per_batch * queries_per_batch
        self.refresh = max(queries_per_batch, cache_refresh // queries_per_batch * queries_per_batch)
        self.seed, self.epoch = seed, epoch
        if self.per_epoch == 0:
            raise VPRInputError(f"queries_per_batch={queries_per_batch} but {triplets.split.root} has only "
                                f"{len(triplets)} queries with a positive within {triplets.train_positives_m:g} m.")
        self.mining_seconds, self.described_images = 0.0, 0

    def __len__(self) -> int:
        return self.per_epoch // self.batch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch()])
        chosen = rng.choice(len(self.triplets), self.per_epoch, replace=False)
        self.mining_seconds, self.described_images = 0.0, 0
        for start in range(0, self.per_epoch, self.refresh):
            begin = time.perf_counter()
            mined = self.mine(chosen[start:start + self.refresh], rng)
            self.mining_seconds += time.perf_counter() - begin
            order = rng.permutation(len(mined))
            for b in range(0, len(order), self.batch):
                yield [mined[i] for i in order[b:b + self.batch]]

    def _candidates(self, rng) -> np.ndarray:
        """Database indices searched for negatives at this refresh."""
        n_db = self.triplets.database_num
        if self.mining == "full":
            return np.arange(n_db)
        if self.mining == "partial":
            return np.sort(rng.choice(n_db, min(self.neg_samples, n_db), replace=False))
        return np.zeros(0, int)  # random: no descriptor needed for negatives

    def mine(self, queries: np.ndarray, rng) -> list[tuple]:
        """[(query, best positive, *negatives)] in split indices for these usable queries."""
        t = self.triplets
        query_idx = np.array([t.query_index(q) for q in queries])
        positives = [t.positives[t.queries[q]] for q in queries]
        not_negatives = [t.not_negatives[t.queries[q]] for q in queries]
        candidates = self._candidates(rng)
        ids = np.concatenate([query_idx, np.unique(np.concatenate(positives + [candidates]))]).astype(int)
        desc = np.ascontiguousarray(self.describe(ids.tolist()), dtype=np.float32)
        self.described_images += len(ids)
        row = {int(i): r for r, i in enumerate(ids)}
        hardest = self._hardest(desc[: len(queries)], desc[[row[c] for c in candidates]], candidates, not_negatives)
        out = []
        for n, (qi, pos, not_neg) in enumerate(zip(query_idx, positives, not_negatives)):
            best = pos[np.argmin(((desc[[row[p] for p in pos]] - desc[n]) ** 2).sum(1))]
            if self.mining == "random":
                pool = np.setdiff1d(np.arange(t.database_num), not_neg, assume_unique=True)
                negatives = rng.choice(pool, self.negatives, replace=len(pool) < self.negatives)
            else:
                negatives = hardest[n]
            out.append((int(qi), int(best), *map(int, negatives)))
        return out

    def _hardest(self, queries: np.ndarray, pool: np.ndarray, pool_ids: np.ndarray, not_negatives) -> list:
        """Per query, the `negatives` nearest pool images (faiss, exact) that are not within reach of it."""
        if len(pool_ids) == 0:
            return []
        index = faiss.IndexFlatL2(pool.shape[1])
        index.add(pool)
        k = min(len(pool_ids), self.negatives + max(len(n) for n in not_negatives))
        _, nearest = index.search(queries, k)
        out = []
        for found, not_neg in zip(pool_ids[nearest], not_negatives):
            kept = found[~np.isin(found, not_neg)][: self.negatives]
            if len(kept) == 0:
                raise VPRInputError(f"No database image of {self.triplets.split.root} is farther than "
                                    f"{self.triplets.negatives_beyond_m:g} m from a query: no negative to mine.")
            out.append(np.resize(kept, self.negatives))  # a pool smaller than the count: repeated
        return out
