import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import SF_VAL_DB, shifted, write_jpeg
from vpr_lib.data import PlacesDataset, RetrievalDataset
from vpr_lib.data.images import load_image
from vpr_lib.data.transforms import eval_transform
from vpr_lib.errors import VPRInputError


# ---- GSV-XS training set -------------------------------------------------------------------------

def test_places_from_note_field_and_small_places_dropped(gsv_xs):
    ds = PlacesDataset.from_folder(gsv_xs, img_per_place=4, min_img_per_place=4)
    assert ds.place_names == ["3183_Osaka", "3244_Osaka"]
    assert ds.dropped_places == 1 and "1 places dropped" in repr(ds)
    assert ds.labels == [0, 1] and ds.place_city == ["osaka", "osaka"]
    assert ds.n_images == 9


def test_item_is_k_distinct_images_of_one_place(gsv_xs):
    ds = PlacesDataset.from_folder(gsv_xs, img_per_place=4, transform=eval_transform(), image_size=(8, 8))
    images, labels = ds[0]
    assert images.shape == (4, 3, 8, 8) and labels.tolist() == [0, 0, 0, 0]
    # sampled without replacement: the 4 images differ (each fixture image has its own pixels)
    flat = images.flatten(1)
    assert len({tuple(row[:20].tolist()) for row in flat}) == 4


def test_k_larger_than_a_place_names_the_place(gsv_xs):
    with pytest.raises(VPRInputError, match=r"K=5 is larger than the 4 images of place '3244_Osaka'"):
        PlacesDataset.from_folder(gsv_xs, img_per_place=5, min_img_per_place=4)


def test_missing_train_folder(tmp_path):
    with pytest.raises(VPRInputError, match="Missing folder: expected a GSV-XS train folder"):
        PlacesDataset.from_folder(tmp_path / "nowhere")


def test_train_folder_without_cities(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(VPRInputError, match="No city folders"):
        PlacesDataset.from_folder(tmp_path / "train")


def test_city_without_images(tmp_path):
    (tmp_path / "train" / "osaka").mkdir(parents=True)
    with pytest.raises(VPRInputError, match=r"No images .* found in .*osaka"):
        PlacesDataset.from_folder(tmp_path / "train")


def test_malformed_train_name_is_named(gsv_xs):
    bad = write_jpeg(gsv_xs / "osaka" / "photo_001.jpg")
    with pytest.raises(VPRInputError, match="photo_001.jpg"):
        PlacesDataset.from_folder(gsv_xs)
    bad.unlink()
    no_note = write_jpeg(gsv_xs / "osaka" / shifted(SF_VAL_DB, note=""))
    with pytest.raises(VPRInputError, match="note field"):
        PlacesDataset.from_folder(gsv_xs)
    no_note.unlink()


def test_gsv_cities_original_layout(tmp_path):
    rows = []
    for city, place, n in (("Osaka", 12, 4), ("Rome", 12, 4), ("Rome", 3, 2)):
        for i in range(n):
            r = dict(place_id=place, year=2015 + i, month=5, northdeg=7 * i, city_id=city, lat=34.5 + i / 10,
                     lon=135.25, panoid=f"pano{city}{place}{i}")
            rows.append(r)
            name = (f"{city}_{place:07d}_{r['year']:04d}_{5:02d}_{7 * i:03d}_{r['lat']}_{r['lon']}_{r['panoid']}.jpg")
            write_jpeg(tmp_path / "Images" / city / name, len(rows))
    (tmp_path / "Dataframes").mkdir()
    df = pd.DataFrame(rows)
    for city in ("Osaka", "Rome"):
        df[df.city_id == city].to_csv(tmp_path / "Dataframes" / f"{city}.csv", index=False)
    ds = PlacesDataset.from_folder(tmp_path)
    # place 12 exists in both cities: made unique per city, then relabelled 0..N-1
    assert len(ds) == 2 and ds.labels == [0, 1] and sorted(ds.place_city) == ["Osaka", "Rome"]
    assert ds.dropped_places == 1


def test_gsv_cities_missing_image_is_named(tmp_path):
    (tmp_path / "Dataframes").mkdir()
    pd.DataFrame([dict(place_id=1, year=2015, month=1, northdeg=0, city_id="Oslo", lat=59.9, lon=10.7,
                       panoid="x")]).to_csv(tmp_path / "Dataframes" / "Oslo.csv", index=False)
    with pytest.raises(VPRInputError, match=r"Oslo_0000001_2015_01_000_59.9_10.7_x.jpg"):
        PlacesDataset.from_folder(tmp_path)


# ---- retrieval sets ------------------------------------------------------------------------------

def test_tokyo_split_positives_and_order(tokyo_split):
    with pytest.warns(UserWarning, match="1 of 2 queries .* no positive within 25 m"):
        ds = RetrievalDataset(tokyo_split)
    assert (ds.database_num, ds.queries_num, len(ds)) == (3, 2, 5)
    assert ds.images_paths[:3] == ds.database_paths and ds.images_paths[3:] == ds.queries_paths
    # queries sorted by name: the far one (east 381548) first, then the one 3 m from database 0
    assert [list(p) for p in ds.positives_per_query] == [[], [0, 1]]


def test_positives_follow_the_threshold(tokyo_split):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        near = RetrievalDataset(tokyo_split, positive_dist_threshold=5)
        far = RetrievalDataset(tokyo_split, positive_dist_threshold=25)
    # the second query is 3 m from database 0 and 7 m from database 1
    assert sorted(map(len, near.positives_per_query)) == [0, 1]
    assert sorted(map(len, far.positives_per_query)) == [0, 2]


def test_split_without_queries_folder(tmp_path):
    write_jpeg(tmp_path / "val" / "database" / SF_VAL_DB)
    with pytest.raises(VPRInputError, match=r"Missing folder: expected the query images of .*val at .*queries"):
        RetrievalDataset(tmp_path / "val")


def test_empty_database_folder(tmp_path):
    (tmp_path / "val" / "database").mkdir(parents=True)
    write_jpeg(tmp_path / "val" / "queries" / SF_VAL_DB)
    with pytest.raises(VPRInputError, match=r"No images .* in .*database"):
        RetrievalDataset(tmp_path / "val")


def test_no_query_with_a_positive(tmp_path):
    write_jpeg(tmp_path / "val" / "database" / SF_VAL_DB)
    write_jpeg(tmp_path / "val" / "queries" / shifted(SF_VAL_DB, east=500))
    with pytest.raises(VPRInputError, match="No query of .* has a database image within 25 m"):
        RetrievalDataset(tmp_path / "val")


def test_malformed_query_name_is_named(tmp_path):
    write_jpeg(tmp_path / "val" / "database" / SF_VAL_DB)
    write_jpeg(tmp_path / "val" / "queries" / "@12@34@.jpg")
    with pytest.raises(VPRInputError, match=r"@12@34@\.jpg"):
        RetrievalDataset(tmp_path / "val")


def test_corrupt_and_truncated_jpeg_are_named(tmp_path):
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not a jpeg at all")
    with pytest.raises(VPRInputError, match="garbage.jpg: corrupt or truncated"):
        load_image(garbage)
    good = write_jpeg(tmp_path / "good.jpg", size=64)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(VPRInputError, match="truncated.jpg: corrupt or truncated"):
        load_image(truncated)


def test_corrupt_image_inside_a_dataset_item(tokyo_split):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = RetrievalDataset(tokyo_split, transform=eval_transform(), image_size=(8, 8))
    ds.images_paths[1].write_bytes(b"\xff\xd8\xff broken")
    assert isinstance(ds[0][0], torch.Tensor)
    with pytest.raises(VPRInputError, match=ds.images_paths[1].name.replace(".", r"\.")):
        ds[1]


def test_hidden_files_are_skipped_with_one_warning(tokyo_split, gsv_xs):
    """macOS and Drive add '._name.jpg' resource forks, '.DS_Store' and '__MACOSX/' when students unzip a set."""
    before = RetrievalDataset(tokyo_split, 25)
    (tokyo_split / "queries" / f"._{before.queries_paths[0].name}").write_bytes(b"\x00\x05\x16\x07 not a JPEG")
    (tokyo_split / "database" / ".DS_Store").write_bytes(b"\x00")
    with pytest.warns(UserWarning, match=r"Skipped 1 hidden image file\(s\) in .*queries"):
        after = RetrievalDataset(tokyo_split, 25)
    assert after.queries_paths == before.queries_paths and after.database_paths == before.database_paths
    places = PlacesDataset.from_folder(gsv_xs)
    (gsv_xs / "__MACOSX" / "osaka").mkdir(parents=True)
    (gsv_xs / "__MACOSX" / "osaka" / "._x.jpg").write_bytes(b"\x00")
    assert len(PlacesDataset.from_folder(gsv_xs)) == len(places)


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_orientation_is_applied(tmp_path, orientation):
    """Issue 31, item 12: a phone's photo taken sideways (EXIF orientation 6 or 8) was read lying down."""
    from PIL import Image

    from vpr_lib.data.images import load_resized
    pixels = np.zeros((40, 80, 3), np.uint8)  # stored 80 wide, 40 high; left half white
    pixels[:, :40] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "sideways.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    upright = load_image(path)
    assert upright.size == ((40, 80) if orientation in (6, 8) else (80, 40))
    small = load_resized(path, (16, 8)).float()  # (3, H=16, W=8)
    top, bottom = small[:, :8].mean().item(), small[:, 8:].mean().item()
    # orientation 6 turns the stored left (white) half to the top, 8 to the bottom; 3 turns it upside down
    if orientation == 6:
        assert top > 200 > 50 > bottom
    elif orientation == 8:
        assert bottom > 200 > 50 > top
    else:
        assert small[:, :, 4:].mean() > 200 > 50 > small[:, :, :4].mean()
