"""SynthCity's capture plans: which camera takes which image, for every split of every profile.

The plan is a pure function of (profile, seed): a list of render jobs, each a batch of captures
of one city with their file names and condition metadata.  Rendering happens elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import utm

from vpr_lib.data.names import format_name
from vpr_lib.synth.city import SF_STYLE, TOKYO_STYLE, TRAIN_STYLES, City, build_city
from vpr_lib.synth.render import TIMES, Cameras

DB_HEADINGS = np.arange(12) * 30  # 12 crops per panorama, as SF-XL
SF_ORIGIN = (548000.0, 4178000.0, 10, "S")
SF_TRAIN_ORIGIN = (552000.0, 4182000.0, 10, "S")  # 4 km north-east of the val/test city: no shared place
TOKYO_ORIGIN = (380000.0, 3944000.0, 54, "S")


@dataclass(frozen=True)
class Profile:
    size: int  # image side (px)
    train_cities: int
    train_blocks: tuple  # blocks per train city (x, y)
    places_per_city: int
    images_per_place: tuple  # inclusive range
    sf_blocks: tuple  # the SF city; val uses its west half, test its east half
    tokyo_blocks: tuple
    db_spacing: float  # metres between database panoramas along streets
    queries: dict  # queries per split
    sf_train_blocks: tuple = (3, 2)  # SF-XS train: another part of SF, database + queries (offline mining)


PROFILES = {
    "smoke": Profile(48, 3, (3, 3), 6, (4, 5), (4, 2), (3, 2), 30.0,
                     {"val": 24, "test": 18, "tokyo": 18, "train": 24}, (3, 2)),
    "demo": Profile(96, 12, (8, 8), 150, (4, 6), (6, 3), (5, 3), 20.0,
                    {"val": 500, "test": 1000, "tokyo": 315, "train": 600}, (6, 3)),  # test sets: the real counts
    "large": Profile(224, 12, (10, 10), 400, (4, 8), (12, 6), (10, 6), 10.0,
                     {"val": 2000, "test": 1000, "tokyo": 315, "train": 4000}, (12, 6)),
}


@dataclass
class Job:
    """One rendering batch: captures of one city."""
    city_key: tuple  # (style name, blocks, seed) → build_city
    cams: Cameras
    paths: list  # relative output paths
    rows: list  # condition metadata, one dict per image
    quality: list  # JPEG quality per image
    seed: int


STYLES = {s.name: s for s in TRAIN_STYLES + (SF_STYLE, TOKYO_STYLE)}


def city_for(key: tuple) -> City:
    name, blocks, seed = key
    return build_city(STYLES[name], blocks, seed)


def _pano_id(rng) -> str:
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    return "".join(rng.choice(alphabet, 22))


def _headings(rng, north_south):
    """Mostly along the street (as people and cars look), sometimes anywhere."""
    along = np.where(north_south, 0.0, 90.0) + 180.0 * rng.integers(0, 2, len(north_south))
    return np.where(rng.random(len(north_south)) < 0.75, along + rng.uniform(-50, 50, len(north_south)),
                    rng.uniform(0, 360, len(north_south)))


def _name(origin, x, y, **fields) -> str:
    east, north = origin[0] + x, origin[1] + y
    lat, lon = utm.to_latlon(east, north, origin[2], origin[3])
    return format_name(east, north, origin[2], origin[3], lat, lon, **fields)


def _cameras(n, x, y, heading, rng, *, pitch=0.0, fov=(60, 60), times=(1.0, 0, 0), fog_p=0.0, year=2017,
             occluders=(0, 0), exposure=(0.95, 1.05)) -> Cameras:
    """Draw the conditions of n captures at given positions and headings."""
    time = rng.choice(3, n, p=np.asarray(times) / np.sum(times))
    fog = np.where(rng.random(n) < fog_p, rng.uniform(0.006, 0.025, n), 0.0)
    return Cameras(x=np.asarray(x, float), y=np.asarray(y, float), heading=np.asarray(heading, float) % 360,
                   pitch=rng.uniform(-pitch, pitch, n), fov=rng.uniform(*fov, n), time=time, fog=fog,
                   year=np.broadcast_to(np.asarray(year), (n,)).astype(int),
                   occluders=rng.integers(occluders[0], occluders[1] + 1, n), exposure=rng.uniform(*exposure, n))


def _rows(cams: Cameras, base: dict, origin, place_ids=None) -> list:
    rows = []
    for i in range(len(cams)):
        rows.append(dict(base, place_id=place_ids[i] if place_ids is not None else "",
                         east=round(origin[0] + cams.x[i], 2), north=round(origin[1] + cams.y[i], 2),
                         heading=round(float(cams.heading[i]), 1), pitch=round(float(cams.pitch[i]), 1),
                         fov=round(float(cams.fov[i]), 1), time_of_day=TIMES[cams.time[i]],
                         fog=round(float(cams.fog[i]), 4), occluders=int(cams.occluders[i]),
                         capture_year=int(cams.year[i])))
    return rows


def _train_jobs(p: Profile, rng, seed) -> list:
    """GSV-XS: places of several train cities, each seen 4+ times across years and conditions."""
    jobs, place_no = [], 0
    for ci, style in enumerate(TRAIN_STYLES[:p.train_cities]):
        key = (style.name, p.train_blocks, seed * 1000 + ci)
        city = city_for(key)
        origin = (400000.0 + 20000 * ci, 4500000.0 + 15000 * ci, 30 + ci % 4, "T")
        spots, north_south = city.street_points(7.0, rng, lateral=2.5)
        order = rng.permutation(len(spots))
        chosen = []
        for i in order:  # places at least 30 m apart (beyond the 25 m threshold), as GSV-Cities
            if all(np.hypot(*(spots[i] - spots[c])) > 30 for c in chosen):
                chosen.append(i)
            if len(chosen) == p.places_per_city:
                break
        for i in chosen:
            spot = spots[i]
            n = int(rng.integers(p.images_per_place[0], p.images_per_place[1] + 1))
            base_heading = _headings(rng, north_south[i:i + 1])[0]
            years = rng.choice(np.arange(2008, 2023), n, replace=False)
            cams = _cameras(n, spot[0] + rng.uniform(-2, 2, n), spot[1] + rng.uniform(-2, 2, n),
                            base_heading + rng.uniform(-15, 15, n), rng, pitch=3, fov=(55, 70),
                            times=(0.8, 0.15, 0.05), fog_p=0.1, year=years, occluders=(0, 2),
                            exposure=(0.8, 1.2))
            place_id = f"{place_no:04d}_{style.name.capitalize()}"
            place_no += 1
            paths = [f"gsv_xs/train/{style.name}/" + _name(
                origin, cams.x[i], cams.y[i], pano_id=_pano_id(rng), heading=int(cams.heading[i]),
                timestamp=f"{cams.year[i]}{rng.integers(1, 13):02d}", note=place_id) for i in range(n)]
            rows = _rows(cams, dict(dataset="gsv_xs", split="train", role="train", city=style.name,
                                    camera="streetview"), origin, [place_id] * n)
            jobs.append(Job(key, cams, paths, rows, [90] * n, int(rng.integers(2**31))))
    return jobs


def _database_jobs(city, key, points, origin, prefix, rng, year, tokyo) -> list:
    """12 headings per panorama along the streets, daytime, as SF-XL / Tokyo 24/7 databases."""
    jobs = []
    for pt in points:
        n = len(DB_HEADINGS)
        cams = _cameras(n, np.full(n, pt[0]), np.full(n, pt[1]), DB_HEADINGS, rng, year=year, occluders=(0, 1))
        pano = _pano_id(rng)
        month = int(rng.integers(1, 13))
        paths = [prefix + (_name(origin, pt[0], pt[1], pano_id=pano, tile=i) if tokyo else
                           _name(origin, pt[0], pt[1], pano_id=pano, heading=int(DB_HEADINGS[i]),
                                 timestamp=f"{year}{month:02d}")) for i in range(n)]
        rows = _rows(cams, dict(dataset=prefix.split("/")[0], split=prefix.split("/")[1], role="database",
                                city=city.style.name, camera="streetview"), origin)
        jobs.append(Job(key, cams, paths, rows, [90] * n, int(rng.integers(2**31))))
    return jobs


# Query conditions per split.  `cameras`: {name: (share, horizontal field of view range in degrees)}; `pitch`: the
# tilt is drawn in ±pitch degrees (the database crops are level); `names`: the file names of Street View crops
# (pano id, heading) or of photos (a photo id and a full date, as SF-XS test queries).
QUERY_CONDITIONS = {
    # train (SF-XS train, for offline mining): Street View crops of other years, as val
    "train": dict(pitch=3, cameras={"streetview": (1.0, (55, 65))}, times=(0.9, 0.1, 0.0), fog_p=0.0,
                  years=(2018, 2020), occluders=(0, 1), exposure=(0.9, 1.1), names="streetview", quality=(88, 92)),
    # val: close to the database (daytime Street View crops, a few years later)
    "val": dict(pitch=3, cameras={"streetview": (1.0, (55, 65))}, times=(0.9, 0.1, 0.0), fog_p=0.0,
                years=(2018, 2020), occluders=(0, 1), exposure=(0.9, 1.1), names="streetview", quality=(88, 92)),
    # test: crowd-sourced photos: several cameras (a phone's main, wide-angle and zoomed lenses), tilted views
    # (up to 20 degrees: up towards the skyline or down to the street), other times of day, years, occlusion
    "test": dict(pitch=20, cameras={"phone": (0.5, (55, 70)), "wide-angle": (0.25, (75, 95)),
                                    "telephoto": (0.25, (30, 45))},
                 times=(0.55, 0.25, 0.2), fog_p=0.2, years=(2009, 2012), occluders=(0, 4), exposure=(0.7, 1.3),
                 names="photo", quality=(70, 95)),
    # tokyo: phone photos at day, sunset and night
    "tokyo": dict(pitch=6, cameras={"phone": (1.0, (50, 70))}, times=(1, 1, 1), fog_p=0.05, years=(2014, 2016),
                  occluders=(0, 3), exposure=(0.8, 1.2), names="tokyo", quality=(75, 95)),
}


def query_conditions_words(split: str) -> str:
    """A split's query conditions in words, from QUERY_CONDITIONS (what the report says of SynthCity's sets)."""
    c = QUERY_CONDITIONS[split]
    cameras = c["cameras"]
    names = {name: name.replace("streetview", "Street View") for name in cameras}
    camera = (f"one camera ({names[next(iter(cameras))]})" if len(cameras) == 1 else
              f"{len(cameras)} cameras (" + ", ".join(f"{names[k]} {share:.0%}" for k, (share, _) in cameras.items()) + ")")
    shares = np.array(c["times"], float) / sum(c["times"])
    shown = [(t, s) for t, s in zip(TIMES, shares) if s]
    times = (", ".join(t for t, _ in shown[:-1]) + f" and {shown[-1][0]} a third each" if len(shown) == 3 and
             np.allclose(shares, 1 / 3) else ", ".join(f"{t} {s:.0%}" for t, s in shown))
    return (f"{camera}, tilted by up to ±{c['pitch']} degrees, {times}, captured {c['years'][0]}-{c['years'][1]}"
            .replace("%", " %"))


def _query_jobs(city, key, points, spacing, origin, prefix, split, n, rng) -> list:
    """Queries at random spots along the database's streets (each within reach of a panorama)."""
    c = QUERY_CONDITIONS[split]
    points, north_south = points
    idx = rng.choice(len(points), n, replace=n > len(points))
    along = rng.uniform(-0.5, 0.5, n) * spacing
    side = rng.uniform(-1, 1, n) * (city.style.street_width / 2 - 2.0)
    ns = north_south[idx]
    spots = points[idx] + np.stack([np.where(ns, side, along), np.where(ns, along, side)], 1)
    camera_names = list(c["cameras"])
    shares = np.array([c["cameras"][k][0] for k in camera_names], float)
    jobs = []
    for chunk in np.array_split(np.arange(n), max(1, n // 12)):
        m = len(chunk)
        camera = rng.choice(len(camera_names), m, p=shares / shares.sum())
        cams = _cameras(m, spots[chunk, 0], spots[chunk, 1], _headings(rng, ns[chunk]), rng, pitch=c["pitch"],
                        times=c["times"], fog_p=c["fog_p"],
                        year=rng.integers(c["years"][0], c["years"][1] + 1, m), occluders=c["occluders"],
                        exposure=c["exposure"])
        cams.fov = np.array([rng.uniform(*c["cameras"][camera_names[j]][1]) for j in camera])
        paths = []
        for i in range(m):
            if c["names"] == "tokyo":  # the upstream quirk: '.jpg' inside the pano_id field
                name = _name(origin, cams.x[i], cams.y[i], pano_id=f"{int(rng.integers(100000)):05d}.jpg")
            elif c["names"] == "photo":  # a photo id and a full date, as SF-XS test queries
                name = _name(origin, cams.x[i], cams.y[i], pano_id=str(int(rng.integers(10**9, 10**10))),
                             timestamp=f"{cams.year[i]}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}")
            else:
                name = _name(origin, cams.x[i], cams.y[i], pano_id=_pano_id(rng),
                             heading=int(cams.heading[i]), timestamp=f"{cams.year[i]}{rng.integers(1, 13):02d}")
            paths.append(prefix + name)
        rows = _rows(cams, dict(dataset=prefix.split("/")[0], split=prefix.split("/")[1], role="queries",
                                city=city.style.name), origin)
        for row, j in zip(rows, camera):
            row["camera"] = camera_names[j]
        quality = [int(q) for q in rng.integers(c["quality"][0], c["quality"][1] + 1, m)]
        jobs.append(Job(key, cams, paths, rows, quality, int(rng.integers(2**31))))
    return jobs


def _test_city_jobs(p, rng, seed, style, blocks, origin, splits, db_year) -> list:
    """Database and queries of a test city; `splits` maps a split to (folder, x-range share)."""
    key = (style.name, blocks, seed * 1000 + 999 - len(splits))
    city = city_for(key)
    all_points, north_south = city.street_points(p.db_spacing, rng)
    jobs = []
    for split, (folder, lo, hi) in splits.items():
        ex = city.extent[0]
        keep = (all_points[:, 0] >= lo * ex) & (all_points[:, 0] < hi * ex)
        jobs += _database_jobs(city, key, all_points[keep], origin, f"{folder}/database/", rng, db_year,
                               split == "tokyo")
        jobs += _query_jobs(city, key, (all_points[keep], north_south[keep]), p.db_spacing, origin,
                            f"{folder}/queries/", split, p.queries[split], rng)
    return jobs


def make_plan(profile: str, seed: int) -> list:
    """All render jobs of a profile: GSV-XS train, SF-XS val/test, Tokyo-XS test, SF-XS train.  SF-XS train came
    last, with a random stream of its own: adding it left every other split's bytes as they were."""
    p = PROFILES[profile]
    rng = np.random.default_rng(seed)
    jobs = _train_jobs(p, rng, seed)
    jobs += _test_city_jobs(p, rng, seed, SF_STYLE, p.sf_blocks, SF_ORIGIN,
                            {"val": ("sf_xs/val", 0.0, 0.5), "test": ("sf_xs/test", 0.5, 1.0)}, 2017)
    jobs += _test_city_jobs(p, rng, seed, TOKYO_STYLE, p.tokyo_blocks, TOKYO_ORIGIN,
                            {"tokyo": ("tokyo_xs/test", 0.0, 1.0)}, 2013)
    jobs += _test_city_jobs(p, np.random.default_rng([seed, 1]), seed + 1, SF_STYLE, p.sf_train_blocks,
                            SF_TRAIN_ORIGIN, {"train": ("sf_xs/train", 0.0, 1.0)}, 2017)
    return jobs
