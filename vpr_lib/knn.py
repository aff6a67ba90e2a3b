"""Exact vs approximate nearest-neighbour search (faiss): memory, query time and recall (the course lecture).

Index kinds (faiss index_factory strings; `{nlist}` is filled from the database size):
- `exact`: Flat, brute force (what evaluation uses);
- `ivf_flat`: an inverted file of nlist k-means cells, `nprobe` of them visited per query;
- `ivf_pq`: the same cells with vectors compressed by product quantisation (m sub-vectors of 8 bits, no polysemous
  training; fewer bits when the database has under 256 vectors to train on);
- `hnsw`: a hierarchical navigable small-world graph (32 links per node).
Memory is the size of the serialised index; query time per query, from searches of all queries at once.
"""
from __future__ import annotations

import time

import faiss
import numpy as np
import pandas as pd

from vpr_lib.errors import VPRInputError
from vpr_lib.evaluate import compute_recalls
from vpr_lib.results import atomic_write_text
from vpr_lib.runs import Run
from vpr_lib.train.checkpoints import evaluate_checkpoint

INDEXES = {"exact": "Flat", "ivf_flat": "IVF{nlist},Flat", "ivf_pq": "IVF{nlist},PQ{m}x{nbits}np", "hnsw": "HNSW32"}


def _pq_subvectors(dim: int, bytes_per_vector: int) -> int:
    """The largest m ≤ bytes_per_vector that divides dim (PQ needs dim % m == 0)."""
    return max(m for m in range(1, min(dim, bytes_per_vector) + 1) if dim % m == 0)


def build_index(kind: str, database: np.ndarray, nprobe: int = 16, pq_bytes: int = 32, train_size: int = 40_000,
                seed: int = 0):
    """A trained, filled faiss index of `kind` over `database` (N, D) float32."""
    if kind not in INDEXES:
        raise VPRInputError(f"Unknown index {kind!r}; expected one of {sorted(INDEXES)}.")
    n, dim = database.shape
    nlist = int(min(1024, max(1, n // 39)))  # faiss wants ≥ 39 training points per cell
    nbits = int(min(8, np.log2(n)))  # 256 sub-centroids need ≥ 256 training vectors: fewer on tiny databases
    spec = INDEXES[kind].format(nlist=nlist, m=_pq_subvectors(dim, pq_bytes), nbits=nbits)
    index = faiss.index_factory(dim, spec)
    for clustering in (getattr(index, "cp", None), getattr(getattr(index, "pq", None), "cp", None)):
        if clustering is not None:  # small databases: train on what there is, without faiss's warning
            clustering.min_points_per_centroid = 1
    if not index.is_trained:
        rows = np.random.default_rng(seed).choice(n, min(n, max(train_size, 39 * nlist)), replace=False)
        index.train(database[np.sort(rows)])
    index.add(database)
    if hasattr(index, "nprobe"):
        index.nprobe = min(nprobe, nlist)
    return index, spec


def search_benchmark(kind: str, database: np.ndarray, queries: np.ndarray, positives, k: int = 20,
                     repeats: int | None = None, **options) -> dict:
    """Build `kind` over the database, search the queries: memory, times and recalls.  The query time is the
    median of `repeats` searches (default 3, or 1 from 100,000 descriptors on, where one search lasts seconds)."""
    repeats = repeats or (3 if len(database) < 100_000 else 1)
    database = np.ascontiguousarray(database, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    start = time.perf_counter()
    index, spec = build_index(kind, database, **options)
    build_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _, predictions = index.search(queries, min(k, len(database)))
        times.append(time.perf_counter() - start)
    recalls = compute_recalls(predictions, positives, ns=(1, 5, 10))
    return {"index": kind, "faiss": spec, "database": len(database), "memory MB": len(faiss.serialize_index(index)) / 1e6,
            "build s": round(build_s, 2), "query ms": 1e3 * float(np.median(times)) / len(queries), **recalls}


def compare_indexes(database, queries, positives, kinds=tuple(INDEXES), **options) -> pd.DataFrame:
    """One row per index kind, with memory and query time relative to exact search."""
    rows = pd.DataFrame([search_benchmark(kind, database, queries, positives, **options) for kind in kinds])
    return with_savings(rows)


def with_savings(rows: pd.DataFrame) -> pd.DataFrame:
    """Add '% memory saved' and '% time saved' against the exact index of the same database size."""
    exact = rows[rows["index"] == "exact"].set_index("database")
    if exact.empty:
        return rows
    base = rows["database"].map(exact["memory MB"]), rows["database"].map(exact["query ms"])
    return rows.assign(**{"% memory saved": 100 * (1 - rows["memory MB"] / base[0]),
                          "% time saved": 100 * (1 - rows["query ms"] / base[1])})


def distractors(database: np.ndarray, n: int, seed: int = 0, chunk: int = 100_000) -> np.ndarray:
    """`n` synthetic descriptors drawn from a Gaussian with the database's mean and covariance, L2-normalised:
    stand-ins for the images of a larger city that are never a query's positive."""
    rng = np.random.default_rng(seed)
    mean = database.mean(0)
    cov = np.cov(database, rowvar=False) + 1e-6 * np.eye(database.shape[1])
    root = np.linalg.cholesky(cov).astype(np.float32)
    out = np.empty((n, database.shape[1]), dtype=np.float32)
    for start in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - start), database.shape[1]), dtype=np.float32) @ root.T + mean
        out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True).clip(1e-12)
    return out


def scaling_study(database, queries, positives, sizes, kinds=tuple(INDEXES), max_size: dict | None = None,
                  seed: int = 0, **options) -> pd.DataFrame:
    """The real database padded with distractors to each size in `sizes` (positives keep their indices);
    `max_size` caps a kind (e.g. {'hnsw': 100_000}: its build time grows fastest)."""
    pool = distractors(database, max(sizes) - len(database), seed) if max(sizes) > len(database) else None
    rows = []
    for size in sorted(sizes):
        if size < len(database):
            raise VPRInputError(f"scaling size {size} is below the real database's {len(database)} images.")
        padded = database if pool is None else np.concatenate([database, pool[: size - len(database)]])
        for kind in kinds:
            if size <= (max_size or {}).get(kind, np.inf):
                rows.append(search_benchmark(kind, padded, queries, positives, **options))
        del padded
    return with_savings(pd.DataFrame(rows))


def run_descriptors(run_id: str, test_set: str, data_root) -> tuple[np.ndarray, np.ndarray, list]:
    """(database, queries, positives) of a completed run on a test set folder: descriptors computed once with its
    best checkpoint and cached in results/runs/<run>/descriptors/<set>.npz; positives from its saved predictions."""
    run = Run(run_id)
    cached = run.descriptors(test_set)
    if cached is None:
        dataset, result = evaluate_checkpoint(run.best_checkpoint(), data_root / test_set, return_descriptors=True)
        run.write_descriptors(test_set, result["descriptors"], dataset.database_num)
        n_db = dataset.database_num
        cached = result["descriptors"][:n_db], result["descriptors"][n_db:]
    return *cached, run.predictions(test_set)["positives"]


def cached_scaling_study(run_id: str, database, queries, positives, sizes, kinds=tuple(INDEXES),
                         max_size: dict | None = None, **options) -> pd.DataFrame:
    """scaling_study, measured once per run and settings: the table is kept in results/runs/<run>/knn/ and
    reused by the next execution (a second ./run_all.sh does not spend minutes re-measuring it)."""
    import hashlib
    import json

    settings = {"sizes": sorted(sizes), "kinds": list(kinds), "max_size": max_size or {}, **options}
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    cache = Run(run_id).knn_file(f"scaling-{digest}")
    if cache.is_file():
        return pd.read_csv(cache)
    table = scaling_study(database, queries, positives, sizes, kinds, max_size, **options)
    atomic_write_text(cache, table.to_csv(index=False))
    return table
