"""Per-epoch validation curves and tables (mean ± std over seeds), as in report 000's table 1 / figure 3."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd


def epoch_table(epochs: pd.DataFrame, metric: str = "R@1") -> pd.DataFrame:
    """Rows = variants, columns = epochs (0 = before training), cells = 'mean ± std' of val `metric`."""
    def cell(v):
        v = np.asarray(v, float)
        return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}"
    table = epochs.groupby(["variant", "epoch"], sort=False)[metric].agg(cell).unstack("epoch")
    table.columns = [f"ep {c}" for c in table.columns]
    return table


def plot_epoch_curves(epochs: pd.DataFrame, metric: str = "R@1", title: str = "SF-XS val"):
    """Val `metric` per epoch, one line per variant, shaded ± one std over seeds."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for variant, group in epochs.groupby("variant", sort=False):
        stats = group.groupby("epoch")[metric].agg(["mean", "std"]).fillna(0)
        ax.plot(stats.index, stats["mean"], marker="o", label=variant)
        ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch (0 = before training)", ylabel=f"{title} {metric} (%)", title=f"{metric} per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
