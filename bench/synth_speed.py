"""SynthCity generation speed on one core: render only, and render + JPEG encoding.

    python bench/synth_speed.py [--profile demo] [--images 3000]

Target (issue 2): >= 500 images/s per core at 96 px.  Runs in one process, one thread.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from vpr_lib.synth.generate import _city, render_job  # noqa: E402
from vpr_lib.synth.plan import PROFILES, make_plan  # noqa: E402
from vpr_lib.synth.render import render  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="demo", choices=sorted(PROFILES))
    ap.add_argument("--images", type=int, default=3000)
    args = ap.parse_args()
    size = PROFILES[args.profile].size
    jobs = make_plan(args.profile, 0)
    # an even mix of train places, databases and queries of every city
    step = max(1, len(jobs) // max(1, args.images // 8))
    chosen, n = [], 0
    for job in jobs[::step] + jobs:
        if n >= args.images:
            break
        chosen.append(job)
        n += len(job.paths)
    render(_city(chosen[0].city_key), chosen[0].cams, size, 0)  # numba compile / cache load, cities built
    for job in chosen:
        _city(job.city_key)
    start = time.perf_counter()
    for job in chosen:
        render(_city(job.city_key), job.cams, size, job.seed)
    render_s = time.perf_counter() - start
    start = time.perf_counter()
    for job in chosen:
        render_job(job, size)
    full_s = time.perf_counter() - start
    print(f"SynthCity {args.profile} at {size} px, {n} images, one core ({platform.processor() or platform.machine()}):")
    print(f"  render only          {n / render_s:7.0f} images/s")
    print(f"  render + JPEG encode {n / full_s:7.0f} images/s")


if __name__ == "__main__":
    main()
