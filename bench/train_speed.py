"""Training and extraction throughput of the real pipeline against pure compute, interleaved, in one process.

    python bench/train_speed.py [--profile demo] [--rounds 8] [--window 5]

Training: the Lightning training step with the real loader (decode + augment), forward, backward, loss, miner
and optimizer, timed over windows of `window` batches; after each window the same number of pure-compute
steps (forward + backward + step on in-memory tensors of the same batch and resolution, on a copy of the
model) is timed.  Extraction: extract_descriptors over SF-XS val, then a pure forward over as many images,
`rounds` times.  Interleaving makes both sides share the machine's slow drifts (other load, clock changes);
the medians of the per-round ratios are reported.  Target (issue 3): both medians >= 0.9 in the demo setting.
"""
from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from vpr_lib.config import load_params, run_configs
from vpr_lib.evaluate import extract_descriptors
from vpr_lib.data.roots import resolve_data_root
from vpr_lib.train.data import VPRDataModule
from vpr_lib.train.module import VPRModule


class InterleavedTimer(Callback):
    """Times windows of real training batches; after each window, times as many pure-compute steps."""

    def __init__(self, config: dict, window: int, skip: int = 2):
        self.window, self.skip = window, skip
        p, k = config["places_per_batch"], config["img_per_place"]
        self.images = torch.randn(p * k, 3, *config["image_size"]).contiguous(memory_format=torch.channels_last)
        self.labels = torch.arange(p).repeat_interleave(k)
        self.pipeline, self.pure, self.started = [], [], None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx < self.skip:
            self.started = time.perf_counter()
            return
        if (batch_idx - self.skip + 1) % self.window:
            return
        self.pipeline.append(self.window * len(self.images) / (time.perf_counter() - self.started))
        self.pure.append(self._pure_steps(module))
        self.started = time.perf_counter()

    def _pure_steps(self, module) -> float:
        if not hasattr(self, "twin"):
            self.twin = copy.deepcopy(module).train()
            self.optimizer = torch.optim.Adam(self.twin.model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _ in range(self.window):
            desc = self.twin(self.images)
            mined = self.twin.miner(desc, self.labels) if self.twin.miner else None
            loss = self.twin.loss_fn(desc, self.labels, mined)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return self.window * len(self.images) / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="demo")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--augment", default=None, help="override the profile's augmentation")
    args = ap.parse_args()
    config = run_configs(load_params("01_baseline", args.profile, {"augment": args.augment} if args.augment else None))[0]
    L.seed_everything(0, verbose=False)
    data = VPRDataModule(config, resolve_data_root(config["data_root"], args.profile))
    data.setup("fit")  # what a run does first: decode the images once into memory
    module = VPRModule(config, data.num_classes)
    timer = InterleavedTimer(config, args.window)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=timer.skip + args.rounds * args.window, limit_val_batches=0,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", callbacks=[timer])
    trainer.fit(module, datamodule=data)  # fit calls setup again: a no-op now

    val, model = data.val_set, module.model.eval()
    workers = 0 if val.fully_cached else config["num_workers"]
    batch = torch.randn(config["eval_batch_size"], 3, *config["image_size"])
    extract_descriptors(model, val, config["eval_batch_size"], workers)  # warm-up (and the cache)
    extraction, forward = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        extract_descriptors(model, val, config["eval_batch_size"], workers)
        extraction.append(len(val) / (time.perf_counter() - start))
        with torch.no_grad():
            start, n = time.perf_counter(), 0
            while n < len(val):
                model(batch)
                n += len(batch)
        forward.append(n / (time.perf_counter() - start))

    def line(name, real, pure, label):
        ratios = [a / b for a, b in zip(real, pure)]
        return (f"  {name:10s} pipeline {statistics.median(real):7.1f} img/s   {label} {statistics.median(pure):7.1f} "
                f"img/s   ratio median {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})")
    print(f"profile {args.profile}, augment {config['augment']}: {config['places_per_batch']}x{config['img_per_place']} "
          f"images of {config['image_size']} px, {torch.get_num_threads()} threads, {config['num_workers']} loader "
          f"workers, {args.rounds} rounds; {platform.processor() or platform.machine()}, torch {torch.__version__}")
    print(line("training", timer.pipeline, timer.pure, "pure compute"))
    print(line("extraction", extraction, forward, "pure forward"))


if __name__ == "__main__":
    main()
