"""What content identity costs on the demo's SynthCity: the digest of the sets one run reads, hashed with an empty
digest cache (every file read), then in a new process from the cache, then again in the same process (what every
further run id costs). docs/reliability.md and docs/benchmarks.md record the last output.

    python bench/identity_cost.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETS = ["gsv_xs/train", "sf_xs/val", "sf_xs/test", "tokyo_xs/test"]
PROBE = """
import sys, time
from vpr_lib.data.roots import dataset_identity
root = {root!r}
for label in sys.argv[1:]:
    start = time.perf_counter()
    dataset_identity(root, {sets!r})
    print(f"{{label}} {{time.perf_counter() - start:.3f}}")
"""


def main() -> int:
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout
    root = REPO / "data" / "synthcity" / "demo"
    if not root.is_dir():
        print("SynthCity demo is missing: python -m vpr_lib.synth --profile demo", file=sys.stderr)
        return 2
    files = sum(len(names) for rel in SETS for _, _, names in os.walk(root / rel))
    print(f"content identity of the demo's sets ({files} files), {cpu.strip()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as empty:
        # an empty digest cache (VPR_DATA elsewhere; SynthCity itself is read where it lies)
        env = dict(os.environ, VPR_DATA=empty)
        probe = PROBE.format(sets=SETS, root=str(root))
        for labels in (["hashing every file (empty cache):", "same process, cached:"],
                       ["new process, cache from disk:", "same process, cached:"]):
            out = subprocess.run([sys.executable, "-c", probe, *labels], env=env, capture_output=True, text=True,
                                 cwd=REPO, check=True).stdout
            for line in out.splitlines():
                label, seconds = line.rsplit(" ", 1)
                print(f"  {label:36s} {float(seconds):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
