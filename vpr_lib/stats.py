"""Statistics of a comparison, from the saved per-query predictions: the chance level, an uncertainty that
combines seeds and queries, paired differences, a Holm correction, and a verdict in three words.

- Chance: random retrieval of N of the D database images finds one of a query's k positives with probability
  1 - C(D-k, N) / C(D, N) (exact expectation, not simulated); R@N by chance is its mean over the queries.
- Uncertainty: a two-level bootstrap. Each replicate draws the seeds with replacement and the queries with
  replacement (the same queries for every seed and variant), and averages per-query correctness.
- Paired: two variants are compared on the same seeds (same data order) and the same drawn queries; the p-value
  is the two-sided bootstrap tail of the difference, Holm-corrected over the comparisons of one table.
"""
from __future__ import annotations

from math import comb

import numpy as np

REPLICATES = 2000
ALPHA = 0.05


def chance_recall(positives_per_query, database_num: int, n: int) -> float:
    """Expected R@n (percent) of a random ranking: per query 1 - C(D-k, n) / C(D, n), averaged."""
    total = comb(database_num, n)
    hits = [1 - comb(database_num - len(p), n) / total for p in positives_per_query]
    return 100 * float(np.mean(hits))


def _draws(n_seeds: int, n_queries: int, rng: np.random.Generator, replicates: int):
    return rng.integers(0, n_seeds, (replicates, n_seeds)), rng.integers(0, n_queries, (replicates, n_queries))


def _replicates(correct: np.ndarray, seeds: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Mean correctness (percent) of each bootstrap replicate of a (seeds, queries) 0/1 array."""
    per_seed = np.stack([correct[:, q].mean(axis=1) for q in queries])  # (replicates, seeds)
    return 100 * np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1)


def bootstrap_mean(correct: np.ndarray, seed: int = 0, replicates: int = REPLICATES) -> tuple[float, float, float]:
    """Mean recall (percent) of a (seeds, queries) 0/1 array and its 95 % interval over seeds and queries."""
    correct = np.asarray(correct, float)
    draws = _replicates(correct, *_draws(*correct.shape, np.random.default_rng(seed), replicates))
    low, high = np.percentile(draws, [2.5, 97.5])
    return 100 * correct.mean(), float(low), float(high)


def paired_difference(base: np.ndarray, other: np.ndarray, seed: int = 0,
                      replicates: int = REPLICATES) -> dict:
    """other - base (points) on (seeds, queries) 0/1 arrays whose rows are the same seeds and columns the same
    queries: the difference of the means, its 95 % interval, and the two-sided bootstrap p-value."""
    base, other = np.asarray(base, float), np.asarray(other, float)
    if base.shape != other.shape:
        raise ValueError(f"paired arrays must share seeds and queries: {base.shape} vs {other.shape}")
    seeds, queries = _draws(*base.shape, np.random.default_rng(seed), replicates)
    diff = _replicates(other - base, seeds, queries)
    delta = 100 * float((other - base).mean())
    if np.all(diff == 0):
        p = 1.0
    else:
        p = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean()) + 1 / replicates)
    low, high = np.percentile(diff, [2.5, 97.5])
    return {"delta": delta, "low": float(low), "high": float(high), "p": float(p), "seeds": base.shape[0]}


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN left out of the family, kept as NaN)."""
    p = np.asarray(pvalues, float)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def verdict(delta: float, p_adjusted: float) -> str:
    """better | worse | within noise."""
    if p_adjusted == p_adjusted and p_adjusted < ALPHA:
        return "better" if delta > 0 else "worse"
    return "within noise"
