"""A notebook declares its outputs (vpr_lib.config.declared_outputs); a missing one is an error, not a silent drop."""
import shutil
from pathlib import Path

import pytest

from vpr_lib.config import declared_outputs, missing_outputs
from vpr_lib.errors import VPRInputError
from vpr_lib.report.build import check_declared_outputs, report_steps

COMMITTED = Path(__file__).resolve().parents[1] / "results"


def test_a_training_notebook_declares_its_experiment_tables_curves_and_report_extras():
    declared = declared_outputs("07_mixvpr", "study")
    assert {"07_mixvpr_runs", "07_mixvpr_summary", "07_mixvpr_versus", "07_mixvpr_costs"} <= set(declared["tables"])
    assert declared["figures"] == ["07_mixvpr_val_curves"]
    assert "02_gem_val_curves" not in declared_outputs("02_gem", "study")["figures"]  # it shows an epoch table
    assert declared_outputs("02_gem", "demo") == {"tables": [], "figures": []}  # not in the demo


def test_an_output_declared_for_some_profiles_is_expected_only_there():
    assert "10_mining_train_thresholds" in declared_outputs("10_mining", "full")["figures"]
    assert "10_mining_train_thresholds" not in declared_outputs("10_mining", "study")["figures"]


def test_a_section_builder_s_reads_are_declared():
    assert declared_outputs("12_knn", "study")["tables"] == ["12_knn_test_sets", "12_knn_scaling"]
    assert "03_heatmaps" in declared_outputs("03_visual_analysis", "study")["figures"]


def test_the_committed_study_holds_every_declared_output():
    steps = report_steps()
    assert not [m for name, _ in steps for m in missing_outputs(name, "study", COMMITTED)]
    check_declared_outputs(COMMITTED, steps)


def test_the_report_refuses_a_store_where_a_notebook_that_ran_lacks_a_declared_output(tmp_path):
    shutil.copytree(COMMITTED / "tables", tmp_path / "tables")
    shutil.copytree(COMMITTED / "figures", tmp_path / "figures")
    (tmp_path / "tables" / "07_mixvpr_costs.csv").unlink()
    with pytest.raises(VPRInputError, match=r"07_mixvpr ran .* lacks tables/07_mixvpr_costs.csv.*--only 07"):
        check_declared_outputs(tmp_path, report_steps())
    (tmp_path / "tables" / "07_mixvpr_summary.csv").unlink()  # a notebook that has not run: no section, no error
    check_declared_outputs(tmp_path, report_steps())
    (tmp_path / "figures" / "03_heatmaps.png").unlink()  # a section builder's figure
    with pytest.raises(VPRInputError, match=r"03_visual_analysis ran .* lacks figures/03_heatmaps.png"):
        check_declared_outputs(tmp_path, report_steps())
