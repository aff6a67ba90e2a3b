"""Calibrate SynthCity: is it honest (untrained nets score low) and learnable (training helps)?

Trains ResNet-18 from scratch (no ImageNet) on SynthCity's GSV-XS at the demo resolution and budget
and reports R@1/R@5 on SF-XS val, SF-XS test and Tokyo-XS before and after training, broken down by
time of day.  A deliberately plain PyTorch loop (no results store) so that it measures the data.

    python bench/calibrate_synthcity.py --data data/synthcity/demo --epochs 8 --seeds 0 1
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pytorch_metric_learning import losses, miners
from torch.utils.data import DataLoader

from vpr_lib.data import PlacesDataset, RetrievalDataset
from vpr_lib.data.transforms import eval_transform, train_transform
from vpr_lib.data.layout import TEST_SETS
from vpr_lib.settings import TRAIN_DEFAULTS
from vpr_lib.evaluate import evaluate_descriptors, extract_descriptors, first_correct_rank
from vpr_lib.models import VPRModel

def evaluate_all(model, data: Path, size, conditions: pd.DataFrame, device="cpu") -> list[dict]:
    rows = []
    for name, split in TEST_SETS.items():
        ds = RetrievalDataset(data / split, transform=eval_transform(), image_size=size)
        result = evaluate_descriptors(extract_descriptors(model, ds, 128, device=device), ds)
        correct = first_correct_rank(result["predictions"], ds.positives_per_query)
        rel = [str(p.relative_to(data)) for p in ds.queries_paths]
        tod = conditions.set_index("path").loc[rel, "time_of_day"].to_numpy()
        row = {"set": name, "R@1": round(result["recalls"]["R@1"], 1), "R@5": round(result["recalls"]["R@5"], 1)}
        for t in ("day", "sunset", "night"):
            if (tod == t).any():
                row[f"R@1 {t}"] = round(100.0 * np.mean((correct[tod == t] == 1)), 1)
        rows.append(row)
    return rows


def summarise(path: Path) -> str:
    """Markdown table (mean ± std over seeds) of a calibration JSON."""
    run = json.loads(path.read_text())
    table = pd.DataFrame(run["records"])
    cols = [c for c in ("R@1", "R@5", "R@1 day", "R@1 sunset", "R@1 night") if c in table]
    stats = table.groupby(["stage", "set"], sort=False)[cols].agg(["mean", "std"])
    lines = ["| stage | set | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for (stage, name), row in stats.iterrows():
        cells = ["–" if np.isnan(row[(c, "mean")]) else f"{row[(c, 'mean')]:.1f} ± {row[(c, 'std')]:.1f}"
                 for c in cols]
        lines.append(f"| {stage} | {name} | " + " | ".join(cells) + " |")
    seeds = sorted(int(s) for s in table.seed.unique())
    lines.append(f"\nMean ± std over seeds {seeds}; {run['args']}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("data/synthcity/demo"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--places-per-batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--last-stage", choices=["layer3", "layer4"], default="layer3")
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--cosine", action="store_true", help="one-cycle schedule (warm-up, cosine decay)")
    ap.add_argument("--eval-every", type=int, default=0, help="also print val R@1 every N epochs")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("docs/synthcity_calibration.json"))
    ap.add_argument("--summarise", action="store_true", help="only print the table of an existing --out JSON")
    args = ap.parse_args()
    if args.summarise:
        print(summarise(args.out))
        return
    torch.set_num_threads(2)
    size = (args.size, args.size)
    conditions = pd.read_csv(args.data / "conditions.csv")
    records = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        model = VPRModel.from_config({**TRAIN_DEFAULTS, "image_size": list(size), "last_stage": args.last_stage,
                                      "pretrained": "none", "aggregator": "gem", "aggregator_kwargs": {},
                                      "normalize": True})
        for r in evaluate_all(model, args.data, size, conditions, args.device):
            records.append(dict(r, seed=seed, stage="untrained"))
        places = PlacesDataset.from_folder(args.data / "gsv_xs/train", img_per_place=4,
                                           transform=train_transform("colorjitter"), image_size=size)
        loader = DataLoader(places, batch_size=args.places_per_batch, shuffle=True, drop_last=True, num_workers=args.workers,
                            generator=torch.Generator().manual_seed(seed))
        loss_fn, miner = losses.MultiSimilarityLoss(1.0, 50.0, 0.0), miners.MultiSimilarityMiner(0.1)
        model.to(args.device)
        opt = (torch.optim.Adam(model.parameters(), lr=args.lr) if args.optimizer == "adam" else
               torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * len(loader),
                                                    pct_start=0.15) if args.cosine else None
        start, n_images = time.time(), 0
        for epoch in range(args.epochs):
            model.train()
            for images, labels in loader:
                images, labels = images.flatten(0, 1).to(args.device), labels.flatten().to(args.device)
                desc = model(images)
                loss = loss_fn(desc, labels, miner(desc, labels))
                opt.zero_grad()
                loss.backward()
                opt.step()
                if sched:
                    sched.step()
                n_images += len(images)
            print(f"seed {seed} epoch {epoch + 1}: loss {loss.item():.3f}", flush=True)
            if args.eval_every and (epoch + 1) % args.eval_every == 0:
                print("   ", evaluate_all(model, args.data, size, conditions, args.device), flush=True)
        train_s = time.time() - start
        for r in evaluate_all(model, args.data, size, conditions, args.device):
            records.append(dict(r, seed=seed, stage=f"trained {args.epochs} ep"))
        print(f"seed {seed}: {n_images} training images in {train_s:.0f} s ({n_images / train_s:.0f} img/s)")
    table = pd.DataFrame(records)
    print(table.round(1).to_string(index=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "records": records}, indent=1))
    print(summarise(args.out))


if __name__ == "__main__":
    main()
