import json
import shutil

import numpy as np
import pandas as pd
import pytest

from vpr_lib.data import PlacesDataset, RetrievalDataset, parse_name
from vpr_lib.errors import VPRInputError
from vpr_lib.synth.city import SF_STYLE, build_city
from vpr_lib.synth.generate import generate, manifest_matches
from vpr_lib.synth.render import Cameras, render


def test_smoke_has_every_split_in_the_real_layout(synth_smoke):
    manifest = json.loads((synth_smoke / "manifest.json").read_text())
    folders = set(manifest["counts"])
    assert {"sf_xs/val/database", "sf_xs/val/queries", "sf_xs/test/database", "sf_xs/test/queries",
            "tokyo_xs/test/database", "tokyo_xs/test/queries"} <= folders
    assert sum(f.startswith("gsv_xs/train/") for f in folders) == 3
    files = sorted(p.relative_to(synth_smoke).as_posix() for p in synth_smoke.rglob("*.jpg"))
    assert files == manifest["files"] and manifest["n_images"] == len(files)


def test_every_generated_name_parses_and_every_query_has_a_positive(synth_smoke):
    for path in synth_smoke.rglob("*.jpg"):
        parse_name(path)
    for split in ("sf_xs/val", "sf_xs/test", "tokyo_xs/test"):
        ds = RetrievalDataset(synth_smoke / split)
        assert all(len(p) > 0 for p in ds.positives_per_query), split
    places = PlacesDataset.from_folder(synth_smoke / "gsv_xs/train")
    assert places.dropped_places == 0 and len(set(places.place_city)) == 3


def test_tokyo_queries_keep_the_upstream_quirk(synth_smoke):
    names = [p.name for p in (synth_smoke / "tokyo_xs/test/queries").glob("*.jpg")]
    assert names and all(parse_name(n).pano_id.endswith(".jpg") for n in names)


def test_conditions_csv_describes_every_image(synth_smoke):
    meta = pd.read_csv(synth_smoke / "conditions.csv")
    files = {p.relative_to(synth_smoke).as_posix() for p in synth_smoke.rglob("*.jpg")}
    assert set(meta.path) == files
    assert set(meta.time_of_day) <= {"day", "sunset", "night"}
    tokyo_q = meta[(meta.dataset == "tokyo_xs") & (meta.role == "queries")]
    assert tokyo_q.time_of_day.nunique() >= 2  # queries at several times of day
    db = meta[meta.role == "database"]
    assert (db.time_of_day == "day").all() and sorted(db.heading.unique()) == list(range(0, 360, 30))


def test_same_seed_same_bytes(synth_smoke, tmp_path):
    again = tmp_path / "again"
    generate("smoke", 0, again, progress=False)
    a = json.loads((synth_smoke / "manifest.json").read_text())
    b = json.loads((again / "manifest.json").read_text())
    assert a["content_sha256"] == b["content_sha256"]
    some = a["files"][::37]
    assert all((synth_smoke / f).read_bytes() == (again / f).read_bytes() for f in some)
    assert (synth_smoke / "conditions.csv").read_bytes() == (again / "conditions.csv").read_bytes()


def test_other_seed_other_city():
    city_a, city_b = build_city(SF_STYLE, (2, 2), 1), build_city(SF_STYLE, (2, 2), 2)
    assert not np.array_equal(city_a.facade["colour"], city_b.facade["colour"])


def test_generation_is_skipped_when_the_manifest_matches(synth_smoke, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(synth_smoke, copy)
    stamp = (copy / "manifest.json").stat().st_mtime_ns
    generate("smoke", 0, copy, progress=False)
    assert (copy / "manifest.json").stat().st_mtime_ns == stamp
    # a damaged file is detected and the set regenerated
    victim = copy / json.loads((copy / "manifest.json").read_text())["files"][0]
    victim.write_bytes(b"damaged")
    assert not manifest_matches(copy, "smoke", 0)
    generate("smoke", 0, copy, progress=False)
    assert manifest_matches(copy, "smoke", 0)


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(VPRInputError, match="not a SynthCity folder"):
        generate("smoke", 0, tmp_path / "mine", progress=False)
    with pytest.raises(VPRInputError, match="Unknown SynthCity profile 'huge'"):
        generate("huge", 0, tmp_path / "x", progress=False)


def test_renderer_conditions_change_the_image():
    city = build_city(SF_STYLE, (3, 3), 0)
    x, y = city.pitch[0], city.pitch[1] * 1.5
    def shot(**kw):
        base = dict(x=[x], y=[y], heading=[0.0], pitch=[0.0], fov=[60.0], time=[0], fog=[0.0], year=[2017],
                    occluders=[0], exposure=[1.0])
        base.update(kw)
        return render(city, Cameras(**{k: np.asarray(v) for k, v in base.items()}), 32, 0)[0].astype(float)
    day, night, fog = shot(), shot(time=[2]), shot(fog=[0.05])
    assert night.mean() < day.mean() / 2
    assert np.abs(fog - day).mean() > 5
    assert np.abs(shot(heading=[90.0]) - day).mean() > 5


def test_sf_xs_test_queries_come_from_several_cameras_and_tilted_views():
    """The test split's breakdowns by camera and viewpoint have more than one populated row; val stays close to the
    database (Street View crops, nearly level)."""
    from vpr_lib.synth.plan import make_plan
    rows = pd.DataFrame([r for job in make_plan("demo", 0) for r in job.rows])
    test = rows[(rows.dataset == "sf_xs") & (rows.split == "test") & (rows.role == "queries")]
    val = rows[(rows.dataset == "sf_xs") & (rows.split == "val") & (rows.role == "queries")]
    assert set(test.camera) == {"phone", "wide-angle", "telephoto"} and set(val.camera) == {"streetview"}
    assert (test.pitch.abs() > 15).mean() > 0.1 and (test.pitch > 10).mean() > 0.1 and val.pitch.abs().max() <= 3
    wide, tele = test[test.camera == "wide-angle"].fov, test[test.camera == "telephoto"].fov
    assert wide.min() >= 75 and tele.max() <= 45
