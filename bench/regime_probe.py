"""Try a training regime on the demo's variants before changing the demo: time and recall per variant.

    python bench/regime_probe.py --only 01,02,07 --seeds 0 --set frozen_stages=5 --set epochs=8

Trains each variant of the selected notebooks' profile (default demo) with the `--set` overrides (YAML values),
in a results store of its own (default /tmp/vpr-regime-probe: results/ is never touched), and prints one row per
variant: seconds of training (fit + test, `train_seconds`), SF-XS val R@1 at epoch 0 and of the tested checkpoint
(the best epoch), and the test sets' R@1, means over the seeds, with the CPU model. A probe, not a result: the demo's numbers come from
./run_all.sh.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import pandas as pd
import yaml


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", required=True, help="notebook numbers, comma-separated (01,02,...)")
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--seeds", default="0", help="comma-separated")
    ap.add_argument("--variants", default="", help="comma-separated (default: the profile's)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an override (YAML value)")
    ap.add_argument("--results", default="/tmp/vpr-regime-probe")
    args = ap.parse_args()
    os.environ["VPR_RESULTS"] = args.results  # before vpr_lib reads it
    from vpr_lib.config import notebook_paths, load_params, run_configs, trains
    from vpr_lib.errors import VPRInputError
    from vpr_lib.plan import cpu_model
    from vpr_lib.train.run import train

    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    overrides["seeds"] = [int(s) for s in args.seeds.split(",")]
    rows, seen = [], set()
    for path in notebook_paths(args.only.split(",")):
        try:
            params = load_params(path.stem, args.profile, overrides)
        except VPRInputError as e:  # a notebook without training (00, 03, 12) has no such keys
            print(f"{path.stem}: skipped ({str(e).splitlines()[0][:100]})")
            continue
        for config in run_configs(params):
            if not trains(config):
                break
            if args.variants and config["variant"] not in args.variants.split(","):
                continue
            started = time.time()
            run = train(config, progress=False)
            if run.name in seen:
                continue
            seen.add(run.name)
            metrics = json.loads((run / "metrics.json").read_text())
            rows.append({"notebook": path.stem, "variant": config["variant"], "seed": config["seed"],
                         "train s": metrics.get("train_seconds"), "wall s": time.time() - started,
                         "SF-XS val R@1 ep0": pd.read_csv(run / "epochs.csv")["R@1"].iloc[0],
                         **{f"{name} R@1": values["R@1"] for name, values in metrics["test"].items()}})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).groupby(["notebook", "variant"], sort=False).mean(numeric_only=True).round(1)
    print(f"\n{args.profile} profile with {overrides}; {cpu_model()}, {os.cpu_count()} cores")
    print(table.drop(columns="seed").to_string())


if __name__ == "__main__":
    main()
