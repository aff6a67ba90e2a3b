"""Statistics of a comparison, from the saved per-query predictions: the chance level, an uncertainty that
combines seeds and queries, paired differences, one correction for the whole study, and a verdict in three words.

- Chance: random retrieval of N of the D database images finds one of a query's k positives with probability
  1 - C(D-k, N) / C(D, N) (exact expectation, not simulated); R@N by chance is its mean over the queries.
- Uncertainty: a two-level bootstrap. Each replicate draws the seeds with replacement and the queries with
  replacement (the same queries for every seed and variant), and averages per-query correctness.
- Paired: two variants are compared on the same seeds (same data order) and the same drawn queries. The p-value is
  two-sided, from the difference over its bootstrap standard error (normal): a tail count of the replicates could not
  go below 1/REPLICATES, far above the study's threshold.
- One family: the study's test-set comparisons, every notebook and every test set, N of them (vpr_lib.family).
  Bonferroni: a comparison is decided when N x p < ALPHA. The threshold is the same in every notebook and every
  profile, so the same evidence gets the same verdict anywhere, and a decided comparison never has a larger p than
  an undecided one (Holm's step-down would need every p of the study at once; a notebook decides alone).
"""
from __future__ import annotations

from math import comb, erfc, sqrt

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
    spread = float(diff.std(ddof=1))
    p = erfc(abs(delta) / spread / sqrt(2)) if spread > 0 else float(delta == 0)
    low, high = np.percentile(diff, [2.5, 97.5])
    return {"delta": delta, "low": float(low), "high": float(high), "p": float(p), "seeds": base.shape[0]}


def corrected(p: float, family: int) -> float:
    """Bonferroni: p times the number of comparisons in the study's family (at most 1)."""
    return min(1.0, p * family)


def verdict(delta: float, p_corrected: float) -> str:
    """better | worse | within noise, from the corrected p."""
    if p_corrected == p_corrected and p_corrected < ALPHA:
        return "better" if delta > 0 else "worse"
    return "within noise"


def seed_interval(differences) -> tuple[float, float, float]:
    """Mean of per-seed differences and its 95 % t interval over the seeds (for sets whose queries differ, so that
    no query can be resampled in pairs); (mean, nan, nan) with fewer than 2 seeds."""
    from scipy.stats import t

    d = np.asarray(differences, float)
    if len(d) < 2:
        return float(d.mean()), float("nan"), float("nan")
    half = float(t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / sqrt(len(d)))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def cell_mean(cell) -> float:
    """The number a results-table cell starts with: 'mean ± std', 'value (1 seed)', a signed difference, a chance
    level (nan for 'nan …')."""
    return float(str(cell).split("±")[0].split()[0])
