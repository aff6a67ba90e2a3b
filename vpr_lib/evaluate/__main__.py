"""python -m vpr_lib.evaluate --checkpoint PATH --dataset DIR [--threshold 25]: saved weights on a retrieval set."""
from __future__ import annotations

import argparse
import sys

from vpr_lib.errors import VPRInputError
from vpr_lib.train.checkpoints import evaluate_checkpoint


def main(argv=None) -> int:
    """python -m vpr_lib.evaluate --checkpoint PATH --dataset DIR [--threshold 25]"""
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.evaluate",
                                 description="Evaluate saved weights on a retrieval set (no training).")
    ap.add_argument("--checkpoint", required=True, help="a run's checkpoints/best.ckpt or last.ckpt")
    ap.add_argument("--dataset", required=True, help="a folder with database/ and queries/, e.g. tokyo_xs/test")
    ap.add_argument("--threshold", type=float, default=None, help="positive distance in metres (default: the run's)")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    try:
        dataset, result = evaluate_checkpoint(args.checkpoint, args.dataset, args.threshold, args.device)
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{dataset}  threshold {dataset.threshold:g} m")
    print("  ".join(f"{k}: {v:.1f}" for k, v in result["recalls"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
