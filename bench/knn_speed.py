"""faiss exact vs approximate search on synthetic descriptors: memory, query time and recall at several sizes.

    python bench/knn_speed.py [--sizes 10000 100000 1000000] [--dim 512] [--queries 200]

The database holds unit vectors around 1,000 centres (a stand-in for places); each query is a slightly moved
database vector, its only positive.  Notebook 12 runs the same study on trained descriptors; this script
needs no trained model and no dataset.
"""
from __future__ import annotations

import argparse
import platform

import faiss
import numpy as np

from vpr_lib.knn import INDEXES, scaling_study


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--hnsw-max", type=int, default=100_000, help="largest size for HNSW (slowest to build)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    base = min(args.sizes)
    centres = rng.standard_normal((1000, args.dim)).astype(np.float32)
    database = centres[rng.integers(0, 1000, base)] + 0.5 * rng.standard_normal((base, args.dim)).astype(np.float32)
    database /= np.linalg.norm(database, axis=1, keepdims=True)
    truth = rng.choice(base, args.queries, replace=False)
    queries = database[truth] + 0.05 * rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    table = scaling_study(database, queries, [np.array([t]) for t in truth], args.sizes, tuple(INDEXES),
                          max_size={"hnsw": args.hnsw_max})
    print(f"{args.queries} queries of {args.dim}-d; {faiss.omp_get_max_threads()} threads; "
          f"{platform.processor() or platform.machine()}; faiss {faiss.__version__}")
    print(table.drop(columns=["faiss"]).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
