"""python -m vpr_lib.synth --profile smoke|demo|large --seed N --out DIR"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vpr_lib.errors import VPRInputError
from vpr_lib.paths import synthcity_dir
from vpr_lib.process import stoppable
from vpr_lib.synth.generate import generate
from vpr_lib.synth.plan import PROFILES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vpr_lib.synth", description=(
        "Generate SynthCity, the offline VPR benchmark, in the real GSV-XS / SF-XS / Tokyo-XS formats."))
    parser.add_argument("--profile", choices=sorted(PROFILES), default="demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="output folder (default: data/synthcity/<profile>)")
    args = parser.parse_args(argv)
    out = args.out or synthcity_dir(args.profile)
    try:
        manifest = generate(args.profile, args.seed, out)
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for folder, n in manifest["counts"].items():
        print(f"  {folder:32s} {n:6d}")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(stoppable(main)())  # a stop exits 130 (INT) or 143 (TERM); the step dies with run_all.sh
