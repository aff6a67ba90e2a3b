"""Shared fixtures: tiny folders with the real example names, and SynthCity smoke generated once."""
from __future__ import annotations

import signal

import numpy as np
import pandas as pd
import pytest
from PIL import Image

# Real names from the datasets (the real datasets' file names).
GSV_OSAKA = [
    "@0543127.33@3839682.24@53@S@034.69825@0135.47089@YZgpijwd1UBMBDuU-ZIr1A@@295@@@@201604@3183_Osaka@.jpg",
    "@0543128.57@3839777.62@53@S@034.69911@0135.47091@N5Vbv16ynlejV6VmGh8FQg@@191@@@@201504@3244_Osaka@.jpg",
]
SF_VAL_DB = "@0553003.03@4175258.88@10@S@037.72306@-122.39856@2cimd-inpG5ocC4IY7Go-A@@120@@@@201712@@.jpg"
SF_TEST_QUERY = "@0549429.48@4182415.02@10@S@037.78775@-122.43862@4116330171@@@@@@20091119@@.jpg"
TOKYO_DB = "@0382782.92@3946963.72@54@S@035.65957@0139.70501@5itPqm8M6VJqiqXAfAVqyg@00@@@@@@@.jpg"
TOKYO_QUERY = "@0381548.01@3946636.62@54@S@035.65647@0139.69141@00738.jpg@@@@@@@@.jpg"
REAL_NAMES = GSV_OSAKA + [SF_VAL_DB, SF_TEST_QUERY, TOKYO_DB, TOKYO_QUERY]


def write_jpeg(path, seed=0, size=16):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def shifted(name: str, east: float = 0.0, north: float = 0.0, note: str | None = None, pano: str | None = None):
    """A real name moved by (east, north) metres, optionally with another note / pano_id."""
    f = name.split("@")
    f[1], f[2] = f"{float(f[1]) + east:010.2f}", f"{float(f[2]) + north:010.2f}"
    if note is not None:
        f[14] = note
    if pano is not None:
        f[7] = pano
    return "@".join(f)


@pytest.fixture
def gsv_xs(tmp_path):
    """gsv_xs/train with two cities: places of 5, 4 and 2 images (the last one is dropped at K=4)."""
    train = tmp_path / "gsv_xs" / "train"
    seed = 0
    for city, place, n in (("osaka", "3183_Osaka", 5), ("osaka", "3244_Osaka", 4), ("rome", "0007_Rome", 2)):
        for i in range(n):
            seed += 1
            write_jpeg(train / city / shifted(GSV_OSAKA[0], east=i, note=place, pano=f"p{seed}"), seed)
    return train


@pytest.fixture
def tokyo_split(tmp_path):
    """tokyo_xs/test with 3 database images and 2 queries in the real Tokyo formats (the '.jpg' quirk)."""
    split = tmp_path / "tokyo_xs" / "test"
    for i, east in enumerate((0.0, 10.0, 200.0)):
        write_jpeg(split / "database" / shifted(TOKYO_DB, east=east, pano=f"pano{i}"), i)
    write_jpeg(split / "queries" / TOKYO_QUERY, 10)  # 1.3 km away from the database: no positive
    db = TOKYO_DB.split("@")
    write_jpeg(split / "queries" / shifted(TOKYO_QUERY, float(db[1]) - 381548.01 + 3, float(db[2]) - 3946636.62,
                                           pano="00739.jpg"), 11)  # 3 m from the first database image
    return split


@pytest.fixture(scope="session")
def synth_smoke(tmp_path_factory):
    """SynthCity smoke profile, generated once per test session."""
    from vpr_lib.synth.generate import generate
    out = tmp_path_factory.mktemp("synth") / "smoke"
    generate("smoke", 0, out, progress=False)
    return out


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """A private results store (VPR_RESULTS)."""
    monkeypatch.setenv("VPR_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("VPR_RUNS", raising=False)  # the runs inside it
    return tmp_path / "results"



# 4 queries, 5 database images; query q's positives and top-3 predictions
POSITIVES = [[0], [1, 2], [3], []]
PREDICTIONS = [[0, 1, 2], [3, 2, 1], [4, 0, 3], [1, 2, 3]]  # q0 right at 1, q1 at 2, q2 at 3, q3 never
TIME = ["day", "night", "day", "night"]


@pytest.fixture
def fake_run(tmp_path, results_tmp):
    """A data root with tiny images and conditions.csv, and one run's saved predictions on sf_xs/test."""
    root = tmp_path / "data"
    db = [f"sf_xs/test/database/db{i}.jpg" for i in range(5)]
    qs = [f"sf_xs/test/queries/q{i}.jpg" for i in range(4)]
    for i, rel in enumerate(db + qs):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (24, 24), (40 * i % 255, 90, 200)).save(root / rel)
    rows = [dict(path=p, city="sf", time_of_day="day", fog=0.0, occluders=0, heading=0.0, capture_year=2020,
                 camera="streetview") for p in db]
    rows += [dict(path=p, city="sf", time_of_day=t, fog=0.0, occluders=int(i == 2), heading=90.0 * (i == 1),
                  capture_year=2021, camera="phone") for i, (p, t) in enumerate(zip(qs, TIME))]
    pd.DataFrame(rows).to_csv(root / "conditions.csv", index=False)
    run = results_tmp / "runs" / "fake-run" / "predictions"
    run.mkdir(parents=True)
    flat = np.concatenate([np.array(p, int) for p in POSITIVES])
    np.savez(run / "sf_xs_test.npz", predictions=np.array(PREDICTIONS), distances=np.zeros((4, 3)),
             positives=flat, positives_offsets=np.cumsum([0] + [len(p) for p in POSITIVES]),
             database_paths=np.array(db), queries_paths=np.array(qs),
             database_utms=np.array([[0, 0], [5, 0], [10, 0], [100, 0], [500, 0]], float),
             queries_utms=np.array([[1, 0], [6, 0], [101, 0], [900, 0]], float))
    return root


def model_config(**changes) -> dict:
    """A run config for VPRModel.from_config (the one way to build a model): the training defaults without ImageNet
    weights (tests never download), then `changes`."""
    from vpr_lib.settings import TRAIN_DEFAULTS
    return {**TRAIN_DEFAULTS, "pretrained": "none", **changes}


def tiny_notebook(project, name: str, source: str):
    """project/notebooks/<name>.ipynb (a parameters cell, then `source`) and project/params/<name>.yaml: a
    notebook the runner and run_all.sh execute as one of the study's (VPR_ROOT=project)."""
    import nbformat
    cells = [nbformat.v4.new_code_cell('profile = "demo"', metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(source)]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                       "display_name": "Python 3"}})
    for folder in ("notebooks", "params"):
        (project / folder).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, project / "notebooks" / f"{name}.ipynb")
    (project / "params" / f"{name}.yaml").write_text("defaults: {}\n")
    return project / "notebooks" / f"{name}.ipynb"


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture(autouse=True)
def leaves_the_stop_signals_as_found(request):
    """A test that leaves SIGINT or SIGTERM ignored or blocked in the pytest process passes that on to every child a
    later test starts (an exec keeps both; it resets Python handlers): run_all.sh then cannot trap the stop its stop
    tests send (a POSIX shell cannot trap a signal ignored on entry), and the whole suite hung there twice (issue
    31). Every test gets the dispositions and mask it started with back; one that left a stop signal ignored or
    blocked fails, by name."""
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    after = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    blocked_after = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    inherited = [f"{signal.Signals(s).name} left ignored" for s in STOP_SIGNALS
                 if after[s] is signal.SIG_IGN and before[s] is not signal.SIG_IGN]
    inherited += [f"{signal.Signals(s).name} left blocked" for s in STOP_SIGNALS
                  if s in blocked_after and s not in blocked]
    for s in STOP_SIGNALS:  # a Python handler left behind is not inherited, but is put back too
        if after[s] != before[s] and before[s] is not None:
            signal.signal(s, before[s])
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    assert not inherited, f"{request.node.nodeid}: {'; '.join(inherited)} in the pytest process"
