"""Evaluation: descriptors of database then queries, faiss exact kNN, recall@N at the set's threshold.

recall@N = % of queries with a positive (database image within the threshold) among their first N
predictions, exactly as in the reference codebases (the deep geo-localization benchmark's evaluation).
The command line (`python -m vpr_lib.evaluate`) is in __main__.py: it reads checkpoints through vpr_lib.train,
which imports these metrics, so the two stay apart.
"""
from __future__ import annotations

import faiss
import numpy as np
import torch
from torch.utils.data import DataLoader

RECALL_VALUES = (1, 5, 10, 20)


def compute_recalls(predictions: np.ndarray, positives_per_query, ns=RECALL_VALUES) -> dict:
    """{'R@N': %} from per-query ranked database indices and per-query positive indices."""
    hits = np.zeros(len(ns))
    for pred, positives in zip(predictions, positives_per_query):
        for i, n in enumerate(ns):
            if np.isin(pred[:n], positives).any():
                hits[i:] += 1
                break
    return {f"R@{n}": float(100.0 * h / len(predictions)) for n, h in zip(ns, hits)}


def first_correct_rank(predictions: np.ndarray, positives_per_query) -> np.ndarray:
    """Per query, the 1-based rank of its first correct prediction (0 when none in the list)."""
    ranks = np.zeros(len(predictions), dtype=int)
    for q, (pred, positives) in enumerate(zip(predictions, positives_per_query)):
        hit = np.flatnonzero(np.isin(pred, positives))
        ranks[q] = hit[0] + 1 if len(hit) else 0
    return ranks


def knn_search(database: np.ndarray, queries: np.ndarray, k: int = max(RECALL_VALUES)):
    """Exact L2 search (faiss IndexFlatL2): (distances, indices), each (Q, k)."""
    index = faiss.IndexFlatL2(database.shape[1])
    index.add(np.ascontiguousarray(database, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(database)))


@torch.no_grad()
def extract_descriptors(model, dataset, batch_size: int = 64, num_workers: int = 0, device="cpu") -> np.ndarray:
    """Descriptors (N, D) of every image of a RetrievalDataset, in its order (database, then queries)."""
    model.eval().to(device)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    out = np.empty((len(dataset), model.descriptor_dim), dtype=np.float32)
    for images, indices in loader:
        out[indices.numpy()] = model(images.to(device)).float().cpu().numpy()
    return out


def evaluate_descriptors(descriptors: np.ndarray, dataset, k: int = max(RECALL_VALUES)) -> dict:
    """Recalls plus per-query top-k predictions and descriptor distances."""
    db, queries = descriptors[: dataset.database_num], descriptors[dataset.database_num:]
    distances, predictions = knn_search(db, queries, k)
    return {"recalls": compute_recalls(predictions, dataset.positives_per_query),
            "predictions": predictions, "distances": distances}
