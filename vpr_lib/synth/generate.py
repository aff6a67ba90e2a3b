"""Write SynthCity to disk: render the plan's jobs, JPEGs, conditions.csv, manifest.json.

The output folder is built under a temporary name and renamed into place when complete, so an
interrupted generation never looks finished.  A folder whose manifest matches (profile, seed,
generator version, file hashes) is reused as it is.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from vpr_lib.errors import VPRInputError
from vpr_lib.synth.plan import PROFILES, Job, city_for, make_plan
from vpr_lib.synth.render import render

GENERATOR_VERSION = "4"  # 2: SF-XS train (database + queries) added; 3: SF-XS test queries from three cameras, tilted
# ±20°; 4: the demo's SF-XS test and Tokyo-XS hold the real sets' query counts (1,000 and 315), SF-XS val 500
CONDITION_FIELDS = ("path", "dataset", "split", "role", "city", "place_id", "east", "north", "heading", "pitch",
                    "fov", "time_of_day", "fog", "occluders", "capture_year", "camera", "jpeg_quality")


@lru_cache(maxsize=8)
def _city(key):
    return city_for(key)


def render_job(job: Job, size: int) -> list:
    """Render one job into JPEG bytes: [(relative path, bytes)]."""
    images = render(_city(job.city_key), job.cams, size, job.seed)
    out = []
    for path, image, quality in zip(job.paths, images, job.quality):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=quality)
        out.append((path, buf.getvalue()))
    return out


def _write_job(job: Job, size: int, root: Path) -> list:
    hashes = []
    for path, data in render_job(job, size):
        target = Path(root) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        hashes.append((path, hashlib.sha256(data).hexdigest()))
    return hashes


def _content_hash(hashes: dict) -> str:
    return hashlib.sha256("".join(f"{p}\t{h}\n" for p, h in sorted(hashes.items())).encode()).hexdigest()


def _hash_files(root: Path, paths) -> dict:
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in paths}


def manifest_matches(out: Path, profile: str, seed: int) -> bool:
    """True when `out` holds a complete SynthCity of this profile, seed and version, files intact."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if (manifest.get("profile"), manifest.get("seed"), manifest.get("generator_version")) != (
            profile, seed, GENERATOR_VERSION):
        return False
    try:
        return _content_hash(_hash_files(out, manifest["files"])) == manifest["content_sha256"]
    except OSError:
        return False


def generate(profile: str, seed: int, out: Path, progress: bool = True) -> dict:
    """Generate SynthCity into `out` (skipped when its manifest matches); returns the manifest."""
    if profile not in PROFILES:
        raise VPRInputError(f"Unknown SynthCity profile {profile!r}; expected one of {sorted(PROFILES)}.")
    out = Path(out)
    if manifest_matches(out, profile, seed):
        if progress:
            print(f"SynthCity {profile} (seed {seed}) already complete in {out}: skipped")
        return json.loads((out / "manifest.json").read_text())
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise VPRInputError(f"{out} exists and is not a SynthCity folder (no manifest.json); "
                            "choose another --out or empty it.")
    size = PROFILES[profile].size
    jobs = make_plan(profile, seed)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    bar = tqdm(total=sum(len(j.paths) for j in jobs), desc=f"SynthCity {profile}", unit="img",
               disable=not progress)
    hashes = {}
    try:
        # one process: a fork pool of 2 was no faster on 2 cores (demo: 17.8 s against 18.0 s), and a fork of a
        # notebook kernel or a test process that holds torch's threads can hang
        for job in jobs:
            result = _write_job(job, size, tmp)
            hashes.update(result)
            bar.update(len(result))
        bar.close()
        _write_conditions(tmp / "conditions.csv", jobs)
        manifest = _manifest(profile, seed, size, hashes)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _write_conditions(path: Path, jobs) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, CONDITION_FIELDS)
        writer.writeheader()
        for job in jobs:
            for p, row, q in zip(job.paths, job.rows, job.quality):
                writer.writerow(dict(row, path=p, jpeg_quality=q))


def _manifest(profile, seed, size, hashes) -> dict:
    counts = {}
    for p in hashes:
        folder = "/".join(p.split("/")[:3])
        counts[folder] = counts.get(folder, 0) + 1
    return {"generator": "vpr_lib.synth", "generator_version": GENERATOR_VERSION, "profile": profile, "seed": seed,
            "image_size": size, "counts": dict(sorted(counts.items())), "n_images": len(hashes),
            "content_sha256": _content_hash(hashes), "files": sorted(hashes)}
