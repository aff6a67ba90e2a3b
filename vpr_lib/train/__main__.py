"""python -m vpr_lib.train --params params/01_baseline.yaml --profile smoke [--set key=value …]

Trains every run (variant × seed) of a params file into the results store, reusing completed runs and
resuming interrupted ones, and prints the run folders, one per line, last.
"""
from __future__ import annotations

import argparse
import sys

import yaml

from vpr_lib.config import PROFILES, load_params, run_configs
from vpr_lib.errors import VPRInputError


def parse_sets(items) -> dict:
    """['lr=0.1', 'image_size=[32, 32]'] → {'lr': 0.1, 'image_size': [32, 32]} (values read as YAML)."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise VPRInputError(f"--set expects key=value, got {item!r}.")
        out[key.strip()] = yaml.safe_load(value)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.train", description=__doc__.splitlines()[0])
    ap.add_argument("--params", required=True, help="params/<notebook>.yaml")
    ap.add_argument("--profile", choices=PROFILES, default="demo")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter (repeatable)")
    ap.add_argument("--variant", help="only this variant of the params file")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    from vpr_lib.train.run import train  # here, not at the top: --help and a bad --set answer without loading torch
    try:
        params = load_params(args.params, args.profile, parse_sets(args.set))
        configs = run_configs(params)
        if args.variant:
            configs = [c for c in configs if c["variant"] == args.variant]
            if not configs:
                raise VPRInputError(f"No variant {args.variant!r}; expected one of {sorted(params['variants'])}.")
        dirs = [train(c, progress=not args.no_progress) for c in configs]
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for d in dirs:
        print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
