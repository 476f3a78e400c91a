"""CheckedTrainer on mini_an4: all-invalid epochs fail, torn checkpoints are resumed past,
one trainer per exp dir."""

import logging
import os
import shutil

import numpy as np
import pytest
import torch

from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from espnet_speechllm.train.checked_trainer import (
    AllStepsInvalidError,
    TornCheckpointError,
    torn,
)
from espnet_speechllm.utils.exp_lock import ExpLockedError, exp_lock
from tiny import train_cmd

NO_PLOTS = ("--use_matplotlib", "false")


def _cut(path, keep=0.5):
    """A file cut short, as by a crash while torch.save writes it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _resume(exp, an4_dirs, max_epoch=3):
    root = exp.parent  # train.yaml and stats, as the exp fixture lays them out
    return SpeechLLMTask.main(
        cmd=train_cmd(root / "train.yaml", an4_dirs, exp, root / "stats", *NO_PLOTS)
        + ["--resume", "true", "--max_epoch", str(max_epoch)]
    )


@pytest.fixture
def exp(trained_exp, tmp_path):
    """A copy of the 2-epoch run next to its train.yaml and stats."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(trained_exp.parent / "train.yaml", root)
    (root / "stats").symlink_to(trained_exp.parent / "stats")
    shutil.copytree(trained_exp, root / "train")
    return root / "train"


def _epoch(path):
    return torch.load(path, map_location="cpu", weights_only=False)["reporter"]["epoch"]


def test_each_epoch_backs_up_the_checkpoint_it_replaces(trained_exp):
    assert _epoch(trained_exp / "checkpoint.pth") == 2
    assert _epoch(trained_exp / "checkpoint.prev.pth") == 1
    assert torn(trained_exp / "checkpoint.pth") is None


def test_a_torn_checkpoint_resumes_from_the_epoch_before(exp, an4_dirs, caplog):
    # Before: torch.load's "PytorchStreamReader failed reading zip archive" ended the run.
    _cut(exp / "checkpoint.pth")
    torn_bytes = (exp / "checkpoint.pth").read_bytes()
    assert torn(exp / "checkpoint.pth") is not None
    with caplog.at_level(logging.INFO):
        _resume(exp, an4_dirs)
    assert "was torn" in caplog.text and "resuming from checkpoint.prev.pth" in caplog.text
    assert "2/3epoch started" in caplog.text and "1/3epoch started" not in caplog.text
    assert (exp / "checkpoint.pth.torn").read_bytes() == torn_bytes  # nothing lost
    assert _epoch(exp / "checkpoint.pth") == 3
    assert (exp / "3epoch.pth").exists()


def test_a_torn_checkpoint_without_a_backup_is_named(exp, an4_dirs):
    _cut(exp / "checkpoint.pth")
    (exp / "checkpoint.prev.pth").unlink()
    with pytest.raises(TornCheckpointError, match=r"checkpoint.pth is torn .*newest epoch model is .*2epoch.pth"):
        _resume(exp, an4_dirs)


def test_a_torn_epoch_model_is_rewritten_from_the_checkpoint(exp, an4_dirs, caplog):
    want = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["model"]
    _cut(exp / "2epoch.pth")
    with caplog.at_level(logging.WARNING):
        _resume(exp, an4_dirs, max_epoch=2)  # nothing to train: the averaging reads 2epoch.pth
    assert "2epoch.pth was torn" in caplog.text
    got = torch.load(exp / "2epoch.pth", map_location="cpu")
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_an_epoch_without_one_valid_step_fails_and_averages_nothing(trained_exp, an4_dirs, tmp_path):
    # Before: ESPnet logged "The gradients at all steps are invalid", averaged and exited 0.
    stats = tmp_path / "feats_stats.npz"
    good = dict(np.load(trained_exp.parent / "stats/train/feats_stats.npz"))
    good["sum"][3] = np.nan
    np.savez(stats, **good)
    out = tmp_path / "nan"
    cmd = train_cmd(trained_exp.parent / "train.yaml", an4_dirs, out, trained_exp.parent / "stats")
    cmd += [*NO_PLOTS, "--normalize", "global_mvn", "--normalize_conf", f"stats_file={stats}"]
    with pytest.raises(AllStepsInvalidError, match="every step of epoch 1 had a non-finite"):
        SpeechLLMTask.main(cmd=cmd)
    assert not list(out.glob("*.pth"))


def test_a_second_trainer_on_a_busy_exp_dir_is_refused(exp, an4_dirs):
    config = exp / "config.yaml"
    before = config.read_bytes()
    with exp_lock(exp):
        with pytest.raises(ExpLockedError, match=f"in use by another trainer \\(pid {os.getpid()} "):
            _resume(exp, an4_dirs)
    assert config.read_bytes() == before  # refused before ESPnet wrote anything
