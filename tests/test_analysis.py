"""Visual analysis from saved predictions, on a constructed example: grids, filters, per-condition recall,
failure categories and the widget browser (driven without a kernel)."""
import io

import pandas as pd
import pytest
from PIL import Image

from vpr_lib.analysis import (condition_gaps, correct_at, failure_categories, failure_table, query_hits,
                             recall_by_condition)
from vpr_lib.errors import VPRInputError
from vpr_lib.runs import Run
from tests.conftest import POSITIVES, PREDICTIONS
from vpr_lib.viz.grids import FRAME, GREEN, RED, compact_grid, grid_image, save_prediction_grids, select_queries

def frame_colours(image: Image.Image, tiles: int, size: int):
    """The colour of each tile's frame (top-left pixel inside the border)."""
    width = size + 2 * FRAME + 4
    return [image.getpixel((t * width + 1, 1)) for t in range(tiles)]


def test_grid_frames_are_green_exactly_for_positives(fake_run):
    data = Run("fake-run").predictions("sf_xs/test")
    for query, (preds, positives) in enumerate(zip(PREDICTIONS, POSITIVES)):
        colours = frame_colours(grid_image(data, query, fake_run, k=3, size=32), 4, 32)[1:]
        assert colours == [GREEN if p in positives else RED for p in preds]


def test_only_wrong_keeps_the_queries_wrong_at_rank_1(fake_run):
    data = Run("fake-run").predictions("sf_xs/test")
    assert list(correct_at(data, 1)) == [True, False, False, False]
    assert list(select_queries(data, only_wrong=True)) == [1, 2, 3]
    assert list(select_queries(data, n_queries=2, only_wrong=True)) == [1, 3]


def test_saved_grids_list_query_predictions_and_positives(fake_run, results_tmp):
    written = save_prediction_grids("fake-run", "sf_xs/test", fake_run, k=3, n_queries=None, size=32)
    assert len(written) == 4 and all(p.is_file() for p in written)
    table = pd.read_csv(written[1].with_suffix(".csv"))
    assert list(table.role) == ["query", "prediction", "prediction", "prediction", "positive", "positive"]
    predictions = table[table.role == "prediction"]
    assert list(predictions.correct) == [False, True, True]
    assert list(predictions.distance_m) == [94.0, 4.0, 1.0]  # metres from the query's UTM
    figure = compact_grid("fake-run", "sf_xs/test", fake_run, n_queries=2, k=3, size=32)
    figure.savefig(io.BytesIO(), format="png")


def test_grid_labels_print_at_a_fifth_of_a_tile_unless_they_would_overrun_it():
    from vpr_lib.viz.grids import label_font
    assert label_font(["query 999", "#1  258 m"], 96).size == 19  # 8 pt once five tiles span a report column
    long = ["#20  123456789 m"]
    font = label_font(long, 96)
    assert font.size < 19 and font.getlength(long[0]) <= 96 + 2 * FRAME


def test_recall_by_condition_sums_back_to_the_overall_recall(fake_run):
    data = Run("fake-run").predictions("sf_xs/test")
    runs = pd.DataFrame({"run_id": ["fake-run"]})
    for n in (1, 3):
        table = recall_by_condition(query_hits(runs, ["sf_xs/test"], fake_run, n=n), "time_of_day")
        weighted = (table[f"R@{n}"] * table.queries).sum() / table.queries.sum()
        assert weighted == pytest.approx(100 * correct_at(data, n).mean())
    viewpoint = recall_by_condition(query_hits(runs, ["sf_xs/test"], fake_run), "viewpoint")
    assert viewpoint.queries.sum() == 4  # q3 has no positive: its viewpoint is 'nan'


def test_recall_by_condition_gives_its_interval_and_the_conditions_own_chance_level(fake_run):
    table = recall_by_condition(query_hits(pd.DataFrame({"run_id": ["fake-run"]}), ["sf_xs/test"], fake_run),
                                "time_of_day")
    day, night = table.loc[("sf_xs/test", "day")], table.loc[("sf_xs/test", "night")]
    assert (day["R@1"], night["R@1"]) == (50.0, 0.0)  # q0 right, q2 wrong; q1 and q3 wrong at 1
    # a random ranking of the 5 database images: day q0 and q2 have 1 positive each, night q1 has 2 and q3 none
    assert (day.chance, night.chance) == (20.0, 20.0)
    assert day["95% CI"] == "[0.0, 100.0]" and night["95% CI"] == "[0.0, 0.0]"  # 2 queries: all or none drawn


def test_condition_gaps_pair_the_runs_by_seed_on_the_same_queries(fake_run, results_tmp):
    import shutil
    import numpy as np
    other = results_tmp / "runs" / "other-run" / "predictions"
    shutil.copytree(results_tmp / "runs" / "fake-run" / "predictions", other)
    with np.load(other / "sf_xs_test.npz") as z:
        arrays = dict(z)
    arrays["predictions"][1] = [1, 3, 2]  # q1 (night) now right at 1
    np.savez(other / "sf_xs_test.npz", **arrays)
    read = lambda run_id, seed, n=1: query_hits(pd.DataFrame({"run_id": [run_id], "seed": [seed]}), ["sf_xs/test"],
                                                fake_run, n)
    gaps = condition_gaps(read("other-run", 0), read("fake-run", 0), "time_of_day")
    assert gaps.loc[("sf_xs/test", "day"), "Δ R@1"] == 0.0 and gaps.loc[("sf_xs/test", "night"), "Δ R@1"] == 50.0
    assert gaps.loc[("sf_xs/test", "day"), "95% CI"] == "[+0.0, +0.0]" and set(gaps.seeds) == {1}
    with pytest.raises(VPRInputError, match="No seed in common"):
        condition_gaps(read("other-run", 1), read("fake-run", 0))
    with pytest.raises(VPRInputError, match="same queries at the same n"):
        condition_gaps(read("other-run", 0, n=3), read("fake-run", 0))
    with pytest.raises(VPRInputError, match="Unknown condition 'weather'; available: "):
        recall_by_condition(read("fake-run", 0), "weather")


def test_failure_categories_follow_the_conditions(fake_run):
    cats = failure_categories(Run("fake-run").predictions("sf_xs/test"), fake_run)
    assert list(cats["illumination (sunset / night)"]) == [False, True, False, True]
    assert list(cats["occlusion"]) == [False, False, True, False]
    assert list(cats["viewpoint change (> 15 deg)"]) == [False, True, False, False]
    assert not cats["skyline (tilted up > 10 deg)"].any()  # no pitch recorded: level views
    assert list(cats["clean conditions (no recorded cause)"]) == [True, False, False, False]
    table = failure_table(pd.DataFrame({"run_id": ["fake-run"]}), "sf_xs/test", fake_run)
    assert table.loc["illumination (sunset / night)", "share of failures (%)"] == pytest.approx(200 / 3, abs=0.1)


def test_browser_moves_through_filtered_queries_and_compares_two_runs(fake_run, results_tmp):
    import shutil

    from vpr_lib.viz.browser import WRONG, PredictionBrowser
    shutil.copytree(results_tmp / "runs" / "fake-run", results_tmp / "runs" / "other-run")
    browser = PredictionBrowser({"a": "fake-run", "b": "other-run"}, fake_run, test_sets=("sf_xs/test",), k=3,
                                size=32)
    assert "time_of_day = night" in browser.filter.options and WRONG in browser.filter.options
    first = browser.image_a.value
    assert first and browser.image_b.value == first  # the same predictions side by side
    browser.query.value = 1
    assert browser.image_a.value != first and "query 1" in browser.info.value
    browser.filter.value = "time_of_day = night"
    assert browser.query.max == 1 and "query 1" in browser.info.value  # night queries: 1 and 3
    browser.query.value = 1
    assert "query 3" in browser.info.value and "wrong at rank 1" in browser.label_a.value
    browser.filter.value = WRONG
    assert list(browser.queries()) == [1, 2, 3]


def test_a_tilted_query_is_a_viewpoint_change_and_tilted_up_a_skyline(fake_run):
    """SynthCity records each camera's pitch; the database crops are level, so a query tilted by more than 15 degrees
    changes the viewpoint as much as one turned by that much, and one tilted up looks at the skyline."""
    meta = pd.read_csv(fake_run / "conditions.csv")
    meta["pitch"] = 0.0
    meta.loc[meta.path.str.endswith("q0.jpg"), "pitch"] = 18.0  # up: viewpoint change and skyline
    meta.loc[meta.path.str.endswith("q2.jpg"), "pitch"] = -18.0  # down: a viewpoint change only
    meta.to_csv(fake_run / "conditions.csv", index=False)
    data = Run("fake-run").predictions("sf_xs/test")
    cats = failure_categories(data, fake_run)
    assert list(cats["viewpoint change (> 15 deg)"]) == [True, True, True, False]
    assert list(cats["skyline (tilted up > 10 deg)"]) == [True, False, False, False]
    assert list(cats["clean conditions (no recorded cause)"]) == [False, False, False, False]
    from vpr_lib.analysis import query_conditions
    table = query_conditions(data, fake_run)
    assert list(table.viewpoint[:3]) == ["15-45 deg", "> 45 deg", "15-45 deg"] and table.viewpoint[3] == "unknown"
