"""Per-epoch validation curves and tables (mean ± std over seeds), as in Sajjadi et al.'s report's table 1 / figure 3."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import ScaledTranslation
import numpy as np
import pandas as pd

from vpr_lib.data.layout import SET_LABELS


def epoch_table(epochs: pd.DataFrame, metric: str = "R@1") -> pd.DataFrame:
    """Rows = variants, columns = epochs (0 = before training), cells = 'mean ± std' of val `metric`."""
    def cell(v):
        v = np.asarray(v, float)
        return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}"
    table = epochs.groupby(["variant", "epoch"], sort=False)[metric].agg(cell).unstack("epoch")
    table.columns = [f"ep {c}" for c in table.columns]
    return table


# A figure a report column wide (3.3 in) with 7.5-8 pt text: at least 7 pt once printed in the report.
COLUMN_STYLE = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7.5,
                "ytick.labelsize": 7.5, "legend.fontsize": 7.5}


MARKERS = "os^Dv<>PX*"  # one per variant beside its colour: curves that overlap stay told apart


def plot_epoch_curves(epochs: pd.DataFrame, metric: str = "R@1", title: str = "SF-XS val"):
    """Val `metric` per epoch, one line per variant, shaded ± one std over seeds; the legend below the axes."""
    variants = epochs.variant.nunique()
    with plt.rc_context(COLUMN_STYLE):
        fig, ax = plt.subplots(figsize=(3.3, 2.3))
        for i, (variant, group) in enumerate(epochs.groupby("variant", sort=False)):
            stats = group.groupby("epoch")[metric].agg(["mean", "std"]).fillna(0)
            ax.plot(stats.index, stats["mean"], marker=MARKERS[i % len(MARKERS)], markersize=3.5, label=variant)
            ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="epoch (0 = before training)", ylabel=f"{title} {metric} (%)")
        ax.grid(alpha=0.3)
        below = ax.transAxes + ScaledTranslation(0, -32 / 72, fig.dpi_scale_trans)  # 32 pt under the axes: below
        # the tick labels and the x label
        for columns in (2, 1):  # two legend columns unless long names make it wider than the figure (smaller print)
            legend = ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, ncol=columns,
                               frameon=False)
            fig.set_figheight(2.3 + 0.14 * np.ceil(variants / columns))
            fig.canvas.draw()
            if legend.get_window_extent().width <= fig.bbox.width:
                break
        fig.tight_layout()
    return fig


def plot_recall_bars(results: pd.DataFrame, metric: str = "R@1"):
    """Test `metric` per variant (bars) and test set (groups), mean with ± one std over seeds."""
    stats = results.groupby(["set", "variant"], sort=False)[metric].agg(["mean", "std"]).fillna(0)
    sets, variants = list(results.set.unique()), list(results.variant.unique())
    fig, ax = plt.subplots(figsize=(min(9, max(5, 0.5 * len(variants) * len(sets))), 3.2))
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        mean = [stats.loc[(s, variant), "mean"] for s in sets]
        std = [stats.loc[(s, variant), "std"] for s in sets]
        ax.bar(np.arange(len(sets)) + (i - (len(variants) - 1) / 2) * width, mean, width, yerr=std, capsize=2,
               label=variant)
    ax.set_xticks(np.arange(len(sets)), sets)
    ax.set(ylabel=f"{metric} (%)", title=f"{metric} per set (mean ± std over seeds; SF-XS val selected the checkpoint)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def mined_table(epochs: pd.DataFrame) -> pd.DataFrame:
    """Mean fraction of pairs / triplets each miner kept, per variant and epoch (from epochs.csv)."""
    columns = [c for c in ("mined_pos", "mined_neg", "mined_triplets") if c in epochs]
    trained = epochs[epochs.epoch > 0]
    table = trained.groupby(["variant", "epoch"], sort=False)[columns].mean().round(3).unstack("epoch")
    table.columns = [f"{kind} ep {epoch}" for kind, epoch in table.columns]
    return table


def epoch_time_table(epochs: pd.DataFrame) -> pd.DataFrame:
    """Seconds per epoch of training (validation excluded) and of triplet mining, mean ± std over every trained
    epoch of every seed, and mining's share of the epoch (from epochs.csv's train_s and mining_s)."""
    trained = epochs[epochs.epoch > 0]
    stats = trained.groupby("variant", sort=False)[["train_s", "mining_s"]].agg(["mean", "std"])
    table = pd.DataFrame({f"{column} per epoch": [f"{m:.2f} ± {s:.2f}" for m, s in stats[column].to_numpy()]
                          for column in ("train_s", "mining_s")}, index=stats.index)
    table["mining share (%)"] = (100 * stats[("mining_s", "mean")] / stats[("train_s", "mean")]).round(1)
    if "described_images" in trained:
        described = trained.groupby("variant", sort=False)["described_images"].mean()
        table["images described per epoch"] = described.round().astype("Int64")
    return table


def plot_epoch_time(epochs: pd.DataFrame):
    """Stacked bars: seconds per training epoch spent mining and the rest (forward, backward, loading)."""
    trained = epochs[epochs.epoch > 0]
    means = trained.groupby("variant", sort=False)[["train_s", "mining_s"]].mean()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(means.index, means["mining_s"], label="mining")
    ax.bar(means.index, means["train_s"] - means["mining_s"], bottom=means["mining_s"], label="training steps")
    ax.set(ylabel="seconds per epoch")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_recall_by_condition(table: pd.DataFrame, by: str, metric: str = "R@1"):
    """Bars of `metric` per value of a query condition (x) and test set (colour), from recall_by_condition."""
    frame = table.reset_index().pivot(index=by, columns="set", values=metric).rename(columns=SET_LABELS)
    fig, ax = plt.subplots(figsize=(5, 3))
    frame.plot.bar(ax=ax, rot=0)
    ax.set(xlabel=by.replace("_", " "), ylabel=f"{metric} (%)", title=f"{metric} by {by.replace('_', ' ')}")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_knn_scaling(scaling: pd.DataFrame):
    """Memory, query time and R@1 against database size, one line per index (log-log for costs)."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for kind, group in scaling.groupby("index", sort=False):
        for ax, column in zip(axes, ("memory MB", "query ms", "R@1")):
            ax.plot(group["database"], group[column], marker="o", label=kind)
    for ax, column in zip(axes, ("memory MB", "query ms / query", "R@1 (%)")):
        ax.set(xscale="log", xlabel="database size", ylabel=column)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_threshold_curves(thresholds: pd.DataFrame, metric: str = "R@1",
                          xlabel: str = "positive threshold at test time (m)"):
    """`metric` against a distance threshold (metres, column threshold_m), one line per test set, ± one std over
    seeds."""
    with plt.rc_context(COLUMN_STYLE):
        fig, ax = plt.subplots(figsize=(3.3, 2.4))
        for test_set, group in thresholds.groupby("set", sort=False):
            stats = group.groupby("threshold_m")[metric].agg(["mean", "std"]).fillna(0)
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", markersize=3, capsize=3,
                        label=SET_LABELS.get(test_set, test_set))
        ax.set(xlabel=xlabel, ylabel=f"{metric} (%)")
        ticks = sorted(thresholds.threshold_m.unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
    return fig
