"""Retrieval on a user's own photos (issue 33, item 4): `python -m vpr_lib.evaluate --run ID --queries DIR
--database DIR` on folders of any names, with real photos (scikit-learn ships two), and on UTM-named folders."""
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sklearn.datasets

from conftest import write_jpeg
from vpr_lib.config import load_params, run_configs
from vpr_lib.evaluate.__main__ import main

PHOTOS = Path(sklearn.datasets.__file__).parent / "images"  # china.jpg, flower.jpg: real photos (CC-BY 2.0)


@pytest.fixture
def smoke_run(synth_smoke, results_tmp):
    from vpr_lib.train.run import train
    return train(run_configs(load_params("01_baseline", "smoke", {"data_root": str(synth_smoke)}))[0],
                 progress=False)


def test_unlabelled_photos_are_ranked_with_a_csv_and_grids(smoke_run, tmp_path, capsys):
    queries, database, out = tmp_path / "mine" / "queries", tmp_path / "mine" / "database", tmp_path / "out"
    queries.mkdir(parents=True)
    database.mkdir(parents=True)
    shutil.copy(PHOTOS / "china.jpg", queries / "temple.jpg")
    shutil.copy(PHOTOS / "flower.jpg", queries / "IMG_0042.JPG")
    (queries / "broken.jpg").write_bytes((PHOTOS / "china.jpg").read_bytes()[:300])  # cut short
    shutil.copy(PHOTOS / "china.jpg", database / "same temple.jpg")
    for i in range(3):
        write_jpeg(database / f"other_{i}.jpg", seed=i, size=48)
    assert main(["--run", smoke_run.name, "--queries", str(queries), "--database", str(database), "--top", "3",
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "skipped 1 unreadable query image(s)" in said and "broken.jpg" in said and "recall" not in said
    table = pd.read_csv(out / "top3.csv")
    assert len(table) == 2 * 3 and set(table.columns) == {"query", "rank", "database", "descriptor_distance"}
    temple = table[table["query"].str.endswith("temple.jpg")].sort_values("rank")
    assert temple.database.iloc[0].endswith("same temple.jpg") and temple.descriptor_distance.iloc[0] < 1e-3
    assert sorted(p.name for p in (out / "grids").iterdir()) == ["query_00000.png", "query_00001.png"]
    (queries / "IMG_0042.JPG").unlink()  # a second call replaces the folder whole: no grid of the first left
    assert main(["--run", smoke_run.name, "--queries", str(queries), "--database", str(database), "--top", "2",
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["query_00000.png", "top2.csv"]


def test_utm_named_folders_give_the_runs_own_recall(smoke_run, synth_smoke, tmp_path, capsys):
    split = synth_smoke / "tokyo_xs" / "test"
    assert main(["--run", smoke_run.name, "--queries", str(split / "queries"), "--database", str(split / "database"),
                 "--top", "20", "--out", str(tmp_path / "out")]) == 0
    said = capsys.readouterr().out
    expected = json.loads((smoke_run / "metrics.json").read_text())["test"]["Tokyo-XS"]
    assert f"R@1: {expected['R@1']:.1f}" in said and f"R@5: {expected['R@5']:.1f}" in said
    table = pd.read_csv(tmp_path / "out" / "top20.csv")
    assert {"distance_m", "within_threshold"} <= set(table.columns)


def test_own_photos_errors_are_clear(smoke_run, tmp_path, capsys):
    empty, photos = tmp_path / "empty", tmp_path / "photos"
    empty.mkdir()
    photos.mkdir()
    shutil.copy(PHOTOS / "china.jpg", photos / "a.jpg")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.jpg").write_bytes(b"not an image")
    for args, message in (
            (["--run", smoke_run.name, "--queries", str(empty), "--database", str(photos)], "No images"),
            (["--run", smoke_run.name, "--queries", str(tmp_path / "broken"), "--database", str(photos)],
             "No readable image in"),
            (["--run", "avg-nope-s0-123", "--queries", str(photos), "--database", str(photos)],
             f"Unknown run 'avg-nope-s0-123' .*expected one of {smoke_run.name}"),
            (["--run", smoke_run.name, "--queries", str(photos), "--database", str(photos), "--top", "0"],
             "--top must be a positive number"),
            (["--run", smoke_run.name, "--queries", str(photos), "--database", str(photos), "--threshold", "0"],
             "--threshold must be a positive distance"),
            (["--run", smoke_run.name, "--queries", str(photos), "--database", str(photos), "--out",
              "/proc/vpr/out"], "Cannot write the results in /proc/vpr/out")):
        assert main(args) == 2
        assert re.search(message, capsys.readouterr().err)
    with pytest.raises(SystemExit):  # argparse: the two modes are not mixed
        main(["--run", smoke_run.name, "--dataset", str(photos)])


def test_a_run_sized_for_its_input_refuses_another_size(synth_smoke, results_tmp, tmp_path, capsys):
    from vpr_lib.train.run import train
    configs = run_configs(load_params("07_mixvpr", "smoke", {"data_root": str(synth_smoke)}))
    run = train(next(c for c in configs if c["aggregator"] == "mixvpr"), progress=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(PHOTOS / "china.jpg", photos / "a.jpg")
    assert main(["--run", run.name, "--queries", str(photos), "--database", str(photos),
                 "--image-size", "64", "64"]) == 2
    assert (f"Run {run.name}: Input images of size (64, 64); this model was built for (32, 32) (its aggregator sizes "
            "depend on it). Leave out --image-size") in capsys.readouterr().err
    assert main(["--run", run.name, "--queries", str(photos), "--database", str(photos), "--top", "1",
                 "--out", str(tmp_path / "out")]) == 0
