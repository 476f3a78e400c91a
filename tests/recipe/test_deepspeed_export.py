"""recipe/deepspeed_export.py without DeepSpeed checkpoints or DeepSpeed (its export of
real checkpoints: tests/bin/test_speechllm_train_deepspeed.py)."""

import sys

import pytest

from espnet_speechllm.recipe.deepspeed_export import deepspeed_checkpoints, epoch_state_dict, main


def test_a_dir_without_deepspeed_checkpoints_is_named(tmp_path):
    (tmp_path / "checkpoint.pth").touch()  # ESPnet's Trainer's, not DeepSpeed's
    (tmp_path / "checkpoint_1").mkdir()  # no "latest": not a finished DeepSpeed save
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: no DeepSpeed checkpoint_<epoch>"):
        main([str(tmp_path)])


def test_checkpoints_are_in_epoch_order(tmp_path):
    for e in (10, 2, 1):
        (tmp_path / f"checkpoint_{e}").mkdir()
        (tmp_path / f"checkpoint_{e}" / "latest").write_text(str(e))
    names = [p.name for p in deepspeed_checkpoints(tmp_path)]
    assert names == ["checkpoint_1", "checkpoint_2", "checkpoint_10"]


def test_missing_deepspeed_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "deepspeed", None)
    monkeypatch.setitem(sys.modules, "deepspeed.utils.zero_to_fp32", None)
    with pytest.raises(ImportError, match="checkpoint_3 needs DeepSpeed to read: pip install"):
        epoch_state_dict(tmp_path / "checkpoint_3")
