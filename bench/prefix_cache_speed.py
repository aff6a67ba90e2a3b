"""What the frozen-prefix cache saves: one run of notebook 01's starter trained with and without it.

    python bench/prefix_cache_speed.py [--profile demo] [--epochs 2]

Each run trains in a fresh results store. "cached" first builds (or reads) the cache of every image the run
reads (train, val and test sets), then trains the unfrozen stages and the head on the cached maps; "uncached"
runs the frozen stages on the images at every step, validation and test. Reported: seconds to build the cache
(empty cache folder), training seconds per epoch (epochs.csv's train_s, validation excluded) and the whole
run, and whether both runs reached the same validation recalls (they must: the cache is exact).  Also the
prefix's forward time on a batch of 128 images with its batch norms folded into the convolutions (what the
backbone runs) and as torchvision builds it, and their largest difference.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import pandas as pd
import torch

from vpr_lib.config import load_params, run_configs
from vpr_lib.plan import cpu_model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    from vpr_lib.data import PlacesDataset, RetrievalDataset
    from vpr_lib.models import VPRModel
    from vpr_lib.models.cache import prefix_features
    from vpr_lib.data.roots import resolve_data_root
    from vpr_lib.train.run import train
    config = run_configs(load_params("01_baseline", args.profile, {"epochs": args.epochs, "seeds": [0]}))[0]
    root = resolve_data_root(config["data_root"], args.profile)
    config["data_root"] = str(root)  # the data stays where it is; the cache goes to an empty folder below
    rows, epochs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VPR_DATA"] = f"{tmp}/data"
        start = time.perf_counter()
        backbone = VPRModel.from_config(config).backbone
        sets = [PlacesDataset.from_folder(root / config["train_set"]).paths] + [
            RetrievalDataset(root / s).paths for s in dict.fromkeys([config["val_set"], *config["test_sets"]])]
        for paths in sets:
            prefix_features(backbone, config["image_size"], paths)
        build = time.perf_counter() - start
        folding = _folding(backbone, config["image_size"])
        for cache in (True, False):
            os.environ["VPR_RESULTS"] = f"{tmp}/results_{cache}"
            start = time.perf_counter()
            run_dir = train(dict(config, prefix_cache=cache), progress=False)
            table = pd.read_csv(run_dir / "epochs.csv")
            epochs[cache] = table.drop(columns="train_s")
            rows.append({"prefix cache": cache, "train s / epoch": round(table.train_s.dropna().mean(), 2),
                         "whole run s": round(time.perf_counter() - start, 1)})
    print(f"profile {args.profile}, {args.epochs} epochs of notebook 01's starter (seed 0); {cpu_model()}, "
          f"{os.cpu_count()} cores")
    print(f"building the cache of {sum(map(len, sets))} images (train, val, test sets): {build:.1f} s")
    print(pd.DataFrame(rows).to_string(index=False))
    print("same validation recalls with and without the cache:", epochs[True].equals(epochs[False]))
    print(folding)


@torch.no_grad()
def _folding(backbone, image_size, repeats: int = 3) -> str:
    x = torch.randn(128, 3, *image_size).contiguous(memory_format=torch.channels_last)
    seconds, outputs = {}, {}
    for name, prefix in (("folded", backbone.folded("prefix")), ("unfolded", backbone.prefix)):
        outputs[name] = prefix(x)
        start = time.perf_counter()
        for _ in range(repeats):
            prefix(x)
        seconds[name] = (time.perf_counter() - start) / repeats
    diff = (outputs["folded"] - outputs["unfolded"]).abs().max().item()
    return (f"prefix forward, 128 images: batch norms folded {seconds['folded']:.2f} s, as torchvision builds it "
            f"{seconds['unfolded']:.2f} s ({seconds['unfolded'] / seconds['folded']:.2f}x); largest difference "
            f"{diff:.1e}")


if __name__ == "__main__":
    main()
