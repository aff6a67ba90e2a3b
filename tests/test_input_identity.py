"""Issue 31, items 1-2: a result is reused only for the same content of data and weights (never by a stored
manifest, a path, a size or a modification time), and the prefix cache keys images by content."""
import os
import shutil

import torch

from vpr_lib.config import load_params, run_configs
from vpr_lib.data.identity import file_digest
from vpr_lib.models.backbones import Backbone
from vpr_lib.models.cache import cache_key, prefix_features
from vpr_lib.train.run import run_id


def config_on(root, **changes):
    return run_configs(load_params("01_baseline", "smoke", {"data_root": str(root), **changes}))[0]


def rewrite_keeping_size_and_mtime(path, data: bytes):
    """What `cp -p`, `rsync -t` or `tar x` leave: other bytes, the same size and modification time."""
    stat = path.stat()
    assert len(data) == stat.st_size
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_copy_of_synthcity_with_queries_removed_is_other_data(synth_smoke, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(synth_smoke, copy)  # manifest.json comes along, still claiming the original content
    assert run_id(config_on(copy)) == run_id(config_on(synth_smoke))  # same content, other path: the same run
    for query in sorted((copy / "sf_xs/test/queries").iterdir())[:10]:
        query.unlink()
    assert run_id(config_on(copy)) != run_id(config_on(synth_smoke))


def test_an_image_rewritten_with_its_size_and_mtime_kept_is_other_data(synth_smoke, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(synth_smoke, copy)
    before = run_id(config_on(copy))
    images = sorted((copy / "tokyo_xs/test/database").iterdir())
    rewrite_keeping_size_and_mtime(images[0], images[1].read_bytes()[:images[0].stat().st_size].ljust(
        images[0].stat().st_size, b"\0"))
    assert run_id(config_on(copy)) != before


def test_a_weights_file_is_identified_by_its_content_not_its_path(synth_smoke, tmp_path):
    weights = tmp_path / "resnet18.pth"
    state = {k: v.clone() for k, v in Backbone("resnet18", "layer3").state_dict().items()}
    torch.save(state, weights)
    moved = tmp_path / "elsewhere.pth"
    shutil.copy(weights, moved)
    assert run_id(config_on(synth_smoke, pretrained=str(weights))) == run_id(config_on(synth_smoke,
                                                                                       pretrained=str(moved)))
    state = {k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}  # perturbed, same size
    before = run_id(config_on(synth_smoke, pretrained=str(weights)))
    size, mtime = weights.stat().st_size, weights.stat().st_mtime_ns
    torch.save(state, weights)
    assert weights.stat().st_size == size
    os.utime(weights, ns=(mtime, mtime))
    assert run_id(config_on(synth_smoke, pretrained=str(weights))) != before


def test_the_prefix_cache_keys_images_by_content(tmp_path, monkeypatch):
    from conftest import write_jpeg
    monkeypatch.setenv("VPR_DATA", str(tmp_path / "data"))
    paths = [write_jpeg(tmp_path / "images" / f"{i}.jpg", seed=i, size=32) for i in range(3)]
    backbone = Backbone("resnet18", "layer3", frozen_stages=2).eval()
    before, digest = cache_key(backbone, (32, 32), paths), file_digest(paths[0])
    other = write_jpeg(tmp_path / "other.jpg", seed=7, size=32).read_bytes()
    size = paths[0].stat().st_size
    rewrite_keeping_size_and_mtime(paths[0], other[:size].ljust(size, b"\0"))
    assert file_digest(paths[0]) != digest
    assert cache_key(backbone, (32, 32), paths) != before


def test_a_torn_prefix_cache_file_is_set_aside_and_computed_again(tmp_path, monkeypatch, capsys):
    from conftest import write_jpeg
    import vpr_lib.models.cache as cache
    monkeypatch.setenv("VPR_DATA", str(tmp_path / "data"))
    paths = [write_jpeg(tmp_path / "images" / f"{i}.jpg", seed=i, size=32) for i in range(3)]
    backbone = Backbone("resnet18", "layer3", frozen_stages=2).eval()
    expected = prefix_features(backbone, (32, 32), paths)
    (file,) = (tmp_path / "data/cache/prefix").glob("*.pt")
    file.write_bytes(file.read_bytes()[:100])  # a write cut short (full disk, kill -9 without the temp file)
    cache._MEMORY.clear()
    got = prefix_features(backbone, (32, 32), paths)
    assert "is torn" in capsys.readouterr().out and file.with_name(file.name + ".torn").is_file()
    for path in paths:
        torch.testing.assert_close(got[path], expected[path])
    assert torch.load(file, weights_only=True).shape[0] == 3  # written whole again


def test_a_file_changed_just_before_it_was_hashed_is_hashed_again(tmp_path, monkeypatch):
    """A rewrite within the same timestamp tick keeps size, mtime and even ctime: such a fresh file is not cached."""
    import vpr_lib.data.identity as identity
    monkeypatch.setenv("VPR_DATA", str(tmp_path / "data"))
    path = tmp_path / "images" / "a.jpg"
    path.parent.mkdir()
    path.write_bytes(b"first")
    monkeypatch.setattr(identity, "_stat_key", lambda s: ["a stat"])  # a clock too coarse to tell the writes apart
    first = file_digest(path)  # written just now: racy, not cached
    path.write_bytes(b"other")
    assert file_digest(path) != first
