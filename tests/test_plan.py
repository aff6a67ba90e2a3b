"""python -m vpr_lib.plan: the runs to do and complete, images per epoch and an estimate, before a long run."""
from vpr_lib.config import load_params, run_configs
from vpr_lib.plan import images_per_epoch, main, plan
from vpr_lib.train.run import train


def test_plan_counts_runs_to_do_and_complete_and_estimates_a_time(synth_smoke, results_tmp, capsys):
    table = plan("smoke", ["02"], str(synth_smoke))
    before = table.iloc[0]
    assert (before["runs to do"], before["runs complete"]) == (4, 0)  # avg, gem x seeds 0, 1
    assert table.attrs["seconds"]["02_gem"] > 0 and before["images / epoch (first run to do)"] > 0
    train(run_configs(load_params("02_gem", "smoke", {"data_root": str(synth_smoke)}))[0], progress=False)
    after = plan("smoke", ["02"], str(synth_smoke)).iloc[0]
    assert (after["runs to do"], after["runs complete"]) == (3, 1)
    assert main(["--profile", "smoke", "--only", "02", "--data-root", str(synth_smoke)]) == 0
    out = capsys.readouterr().out
    assert "3 distinct runs to do, 1 complete" in out and "Estimated" in out and "an estimate" in out
    assert main(["--profile", "smoke", "--only", "99"]) == 2


def test_images_per_epoch_follow_the_sampler_and_the_batch_limit():
    config = run_configs(load_params("01_baseline", "demo"))[0]  # 32 places x 4 images, a quarter of the batches
    assert images_per_epoch(config, places=1664) == int(1664 // 32 * 0.25) * 32 * 4
    assert images_per_epoch({**config, "limit_train_batches": 3}, places=1664) == 3 * 32 * 4
    triplets = run_configs(load_params("10_mining", "full"))[0]  # 5000 queries x (query, positive, 10 negatives)
    assert images_per_epoch(triplets, places=0) == 5000 // 4 * 4 * 12
