"""A plan before a long run: per notebook, the runs to do and those already complete, the images each trains per
epoch, and an estimated time from a short timing of a training step on this machine.

    python -m vpr_lib.plan --profile full --data-root DIR [--only 07,09]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time

import pandas as pd
import torch

from vpr_lib.config import add_study_arguments, notebook_paths, notebook_runs
from vpr_lib.errors import VPRInputError
from vpr_lib.data.roots import count_places
from vpr_lib.train.run import run_of
from vpr_lib.train.checks import validate
from vpr_lib.train.module import VPRModule
from vpr_lib.train.samplers import sampling

TIMED_BATCH = 8  # images per timed step


def images_per_epoch(config: dict, places: int) -> int:
    """Images one epoch trains on (Lightning's limit_train_batches applied; triplets: query, positive, negatives)."""
    per_batch, batches = sampling(config).batches_per_epoch(config, places)
    limit = config["limit_train_batches"]
    batches = min(batches, int(limit)) if isinstance(limit, int) else int(batches * limit)
    return batches * per_batch


def step_seconds_per_image(config: dict, device: str) -> float:
    """Seconds per image of one training step (forward, backward, optimizer) of the run's model, measured here."""
    module = VPRModule({**config, "pretrained": "none"}, num_classes=TIMED_BATCH).to(device).train()
    optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=1e-6)
    images = torch.randn(TIMED_BATCH, 3, *config["image_size"], device=device)
    labels = torch.arange(TIMED_BATCH, device=device) // 2
    times = []
    for _ in range(3):  # the first step warms up
        start = time.perf_counter()
        loss = module.loss_fn(module(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times[1:]) / TIMED_BATCH


def cpu_model() -> str:
    """The CPU's model name (timings differ by CPU: print it beside them)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plan(profile: str, only=None, data_root: str = "", device: str | None = None) -> pd.DataFrame:
    """One row per notebook with training: runs to do, runs complete, images per epoch, estimated minutes.
    attrs["distinct"]: (runs to do, runs complete) counting once a run that notebooks share; attrs["seconds"]: the
    estimate per notebook in seconds."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rows, timed, places, todo, done, estimates = [], {}, {}, set(), set(), {}
    for path in notebook_paths(only):
        configs = notebook_runs(path.stem, profile, data_root)  # 03 and 12: the runs of the experiment they analyse
        if not configs:
            continue
        for config in configs:
            validate(config)
        complete = {id(c): run_of(c).is_complete() for c in configs}
        pending = [c for c in configs if not complete[id(c)]]
        for c in configs:
            (done if complete[id(c)] else todo).add(run_of(c).id)
        seconds = 0.0
        for config in pending or configs[:1]:  # the first config also gives the images per epoch when none is to do
            data_key = (config["train_set"], config["img_per_place"], config["min_img_per_place"])
            if data_key not in places:  # one scan of a training set per plan
                places[data_key] = count_places(config) or 0
            if pending:
                key = (config["backbone"], config["last_stage"], tuple(config["image_size"]), config["frozen_stages"],
                       config["aggregator"], str(config["aggregator_kwargs"]))
                if key not in timed:
                    timed[key] = step_seconds_per_image(config, device)
                seconds += images_per_epoch(config, places[data_key]) * config["epochs"] * timed[key]
        estimates[path.stem] = seconds
        example = (pending or configs)[0]
        example_places = places[(example["train_set"], example["img_per_place"], example["min_img_per_place"])]
        rows.append({"notebook": path.stem, "runs to do": len(pending), "runs complete": len(configs) - len(pending),
                     "epochs": example["epochs"],
                     "images / epoch (first run to do)": images_per_epoch(example, example_places),
                     "estimated minutes": round(seconds / 60, 1)})
    table = pd.DataFrame(rows)
    table.attrs["distinct"] = (len(todo), len(done))
    table.attrs["seconds"] = estimates  # per notebook, unrounded (a smoke plan is well under a minute)
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.plan", description=__doc__.splitlines()[0])
    add_study_arguments(ap)
    args = ap.parse_args(argv)
    try:
        table = plan(args.profile, args.only, args.data_root)
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f"{cpu_model()} ({torch.get_num_threads()} threads)")
    print(table.to_string(index=False))
    todo, complete = table.attrs["distinct"]
    minutes = table["estimated minutes"].sum()  # a run shared by two notebooks is estimated in each
    print(f"\n{todo} distinct runs to do, {complete} complete (a run shared by notebooks counts once). "
          f"Estimated {minutes / 60:.1f} h ({minutes:.0f} min) on {device}: an estimate from timing one training "
          f"step of {TIMED_BATCH} images per model here; evaluation, data loading, triplet mining and the "
          "frozen-prefix cache's savings are not counted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
