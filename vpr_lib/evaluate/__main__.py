"""Evaluate saved weights, two ways:

    python -m vpr_lib.evaluate --checkpoint PATH --dataset DIR [--threshold 25]      a retrieval set (recall@N)
    python -m vpr_lib.evaluate --run RUN_ID --queries DIR --database DIR [--top 5] [--out DIR] [--image-size H W]
                                                                                      your own photos (vpr_lib.retrieve)
"""
from __future__ import annotations

import argparse
import sys

from vpr_lib.errors import VPRInputError
from vpr_lib.retrieve import retrieve
from vpr_lib.runs import Run
from vpr_lib.train.checkpoints import evaluate_checkpoint


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vpr_lib.evaluate", description=__doc__.splitlines()[0],
                                 epilog=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help=f"a run's checkpoint, e.g. {Run.CHECKPOINT_EXAMPLE} (with --dataset)")
    ap.add_argument("--dataset", help="a folder with database/ and queries/ in the '@' format, e.g. tokyo_xs/test")
    ap.add_argument("--run", help="a run id of the results store (with --queries and --database)")
    ap.add_argument("--queries", help="a folder of query images, any names")
    ap.add_argument("--database", help="a folder of database images, any names")
    ap.add_argument("--top", type=int, default=5, help="predictions per query (with --run)")
    ap.add_argument("--out", help="where the CSV and grids go (default: results/retrieval/<run id>/)")
    ap.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), help="default: the run's")
    ap.add_argument("--threshold", type=float, default=None, help="positive distance in metres (default: the run's)")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    folders = args.run or args.queries or args.database
    if folders and (args.checkpoint or args.dataset) or not folders and not (args.checkpoint and args.dataset) \
            or folders and not (args.run and args.queries and args.database):
        ap.error("give either --checkpoint and --dataset, or --run, --queries and --database")
    try:
        if folders:
            found = retrieve(args.run, args.queries, args.database, args.top, args.out, args.image_size,
                             args.threshold)
            queries = found["table"]["query"].nunique()
            print(f"{queries} queries ranked against the database: {found['out']}/top{args.top}.csv and grids/")
            if found["recalls"] is not None:
                print(f"UTM in the names: recall within {found['threshold']:g} m  " +
                      "  ".join(f"{k}: {v:.1f}" for k, v in found["recalls"].items()))
            return 0
        dataset, result = evaluate_checkpoint(args.checkpoint, args.dataset, args.threshold, args.device)
    except VPRInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{dataset}  threshold {dataset.threshold:g} m")
    print("  ".join(f"{k}: {v:.1f}" for k, v in result["recalls"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
