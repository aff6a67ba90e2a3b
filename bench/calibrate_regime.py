"""SynthCity against the demo's training regime: untrained vs trained, day vs sunset vs night, test vs val.

    python bench/calibrate_regime.py [--params 01_baseline] [--variant starter] [--profile demo]

"untrained" is the variant's model before any training (epoch 0: ImageNet trunk, random head, seeded as the
run), evaluated on every test set; "trained" is the completed run of the results store (run ./run_all.sh
--only 01 first), read from its saved predictions. Both split R@1 by the query's time of day
(conditions.csv). Prints a Markdown table, mean ± std over the seeds, with the CPU model.
"""
from __future__ import annotations

import argparse
import subprocess

import lightning as L
import numpy as np
import pandas as pd

from vpr_lib.analysis import correct_at, query_conditions
from vpr_lib.config import load_params, run_configs
from vpr_lib.data.layout import TEST_SETS
from vpr_lib.evaluate import first_correct_rank
from vpr_lib.data.roots import resolve_data_root
from vpr_lib.train.module import VPRModule
from vpr_lib.train.checkpoints import evaluate_module
from vpr_lib.train.run import run_of



def by_time(correct: np.ndarray, times: np.ndarray) -> dict:
    row = {"R@1": 100.0 * correct.mean()}
    for t in ("day", "sunset", "night"):
        if (times == t).any():
            row[f"R@1 {t}"] = 100.0 * correct[times == t].mean()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="01_baseline")
    ap.add_argument("--variant", default="starter")
    ap.add_argument("--profile", default="demo")
    args = ap.parse_args()
    configs = [c for c in run_configs(load_params(args.params, args.profile)) if c["variant"] == args.variant]
    root = resolve_data_root(configs[0]["data_root"], args.profile)
    conditions = pd.read_csv(root / "conditions.csv").set_index("path")
    rows = []
    for config in configs:
        L.seed_everything(config["seed"], verbose=False)
        module = VPRModule(config, num_classes=1).eval()  # the run's model before training (epoch 0)
        run = run_of(config)
        for name, rel in TEST_SETS.items():
            dataset, result = evaluate_module(module, root / rel)
            times = conditions.loc[[str(p.relative_to(root)) for p in dataset.queries_paths], "time_of_day"].to_numpy()
            correct = first_correct_rank(result["predictions"], dataset.positives_per_query) == 1
            rows.append({"stage": "untrained", "set": name, "seed": config["seed"], **by_time(correct, times)})
            if run.is_complete():
                data = run.predictions(rel)
                rows.append({"stage": "trained", "set": name, "seed": config["seed"],
                             **by_time(correct_at(data, 1), query_conditions(data, root).time_of_day.astype(str).to_numpy())})
    table = pd.DataFrame(rows)
    cols = [c for c in ("R@1", "R@1 day", "R@1 sunset", "R@1 night") if c in table]
    stats = table.groupby(["stage", "set"], sort=False)[cols].agg(["mean", "std"])
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
    print(f"{args.params}/{args.variant}, profile {args.profile}, seeds {sorted(int(s) for s in table.seed.unique())}; {cpu}")
    print("| stage | set | " + " | ".join(cols) + " |\n|---|---|" + "---|" * len(cols))
    for (stage, name), row in stats.iterrows():
        cells = ["–" if np.isnan(row[(c, "mean")]) else f"{row[(c, 'mean')]:.1f} ± {row[(c, 'std')]:.1f}" for c in cols]
        print(f"| {stage} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
