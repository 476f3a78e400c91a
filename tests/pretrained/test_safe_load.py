"""Checkpoints never run code: model files, --init_param, --resume, n-best averaging."""

import shutil

import pytest
import torch
import yaml

from espnet_speechllm.pretrained.safe_load import (
    CheckpointMismatchError,
    UnsafeCheckpointError,
    load_checkpoint,
    weights_only_loads,
)
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from tiny import tiny_train_config, train_cmd


class _Hostile:
    """Unpickling it (weights_only=False) creates ``marker``: code run from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _hostile_pth(path, marker, wrap=lambda obj: {"encoder.embed.weight": obj}):
    torch.save(wrap(_Hostile(marker)), path)
    return path


def test_the_crafted_file_does_run_code_when_fully_unpickled(tmp_path):
    """The premise of the tests below: ESPnet's torch.load(weights_only=False) runs it."""
    marker = tmp_path / "pwned"
    torch.load(_hostile_pth(tmp_path / "x.pth", marker), weights_only=False)
    assert marker.exists()


def test_load_checkpoint_refuses_a_crafted_pickle(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(UnsafeCheckpointError, match=r"x.pth: refused to load: .* could run code \(it calls io.open\)"):
        load_checkpoint(_hostile_pth(tmp_path / "x.pth", marker))
    assert not marker.exists()


def test_weights_only_loads_covers_every_torch_load(tmp_path):
    marker = tmp_path / "pwned"
    path = _hostile_pth(tmp_path / "x.pth", marker)
    with weights_only_loads(), pytest.raises(UnsafeCheckpointError):
        torch.load(path, map_location="cpu", weights_only=False)
    assert not marker.exists()


def _config_dir(tmp_path, tiny_tokenizer):
    parser = SpeechLLMTask.get_parser()
    conf = tmp_path / "train.yaml"
    conf.write_text(yaml.safe_dump(tiny_train_config(tiny_tokenizer)))
    args = parser.parse_args(["--config", str(conf), "--output_dir", "unused"])
    model = SpeechLLMTask.build_model(args)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    return tmp_path / "config.yaml", model


def test_build_model_from_file_refuses_a_crafted_model_file(tmp_path, tiny_tokenizer):
    config, _ = _config_dir(tmp_path, tiny_tokenizer)
    marker = tmp_path / "pwned"
    with pytest.raises(UnsafeCheckpointError, match="model.pth: refused"):
        SpeechLLMTask.build_model_from_file(config, _hostile_pth(tmp_path / "model.pth", marker))
    assert not marker.exists()


def test_another_models_file_names_the_missing_and_unexpected_keys(tmp_path, tiny_tokenizer):
    """E.g. the LM's .pth given as --model_file: a clear refusal, not a random model."""
    config, model = _config_dir(tmp_path, tiny_tokenizer)
    lm_like = {k: v for k, v in model.state_dict().items() if k.startswith("decoder.")}
    lm_like["lm.head.weight"] = torch.zeros(3)
    torch.save(lm_like, tmp_path / "lm.pth")
    with pytest.raises(CheckpointMismatchError) as e:
        SpeechLLMTask.build_model_from_file(config, tmp_path / "lm.pth")
    msg = str(e.value)
    # BatchNorm fills in its num_batches_tracked itself.
    n_missing = sum(
        not k.startswith("decoder.") and not k.endswith("num_batches_tracked")
        for k in model.state_dict()
    )
    assert f"lm.pth does not fit the model (ESPnetSpeechLLMModel): {n_missing} missing keys (" in msg
    assert "encoder: " in msg and "projector: " in msg
    assert "1 unexpected keys (lm: 1), e.g. lm.head.weight" in msg

    state = model.state_dict()
    key = next(k for k in state if k.startswith("projector."))
    shape = dict(state, **{key: torch.zeros(2, 2)})
    torch.save(shape, tmp_path / "shape.pth")
    with pytest.raises(CheckpointMismatchError, match=f"1 tensors of another shape, e.g. size mismatch for {key}"):
        SpeechLLMTask.build_model_from_file(config, tmp_path / "shape.pth")
    torch.save({"model": state, "optimizers": []}, tmp_path / "checkpoint.pth")
    with pytest.raises(CheckpointMismatchError, match="training checkpoint"):
        SpeechLLMTask.build_model_from_file(config, tmp_path / "checkpoint.pth")


@pytest.fixture
def exp_copy(trained_exp, tmp_path):
    out = tmp_path / "train"
    shutil.copytree(trained_exp, out)
    return out


def _train(trained_exp, an4_dirs, out, *extra):
    root = trained_exp.parent
    SpeechLLMTask.main(cmd=train_cmd(root / "train.yaml", an4_dirs, out, root / "stats", *extra))


def test_init_param_refuses_a_crafted_file(trained_exp, an4_dirs, tmp_path):
    marker = tmp_path / "pwned"
    init = _hostile_pth(tmp_path / "init.pth", marker)
    with pytest.raises(UnsafeCheckpointError, match="init.pth: refused"):
        _train(trained_exp, an4_dirs, tmp_path / "exp", "--init_param", str(init))
    assert not marker.exists()


def test_resume_refuses_a_crafted_checkpoint(trained_exp, exp_copy, an4_dirs, tmp_path):
    marker = tmp_path / "pwned"
    _hostile_pth(exp_copy / "checkpoint.pth", marker, wrap=lambda obj: {"model": {}, "reporter": obj})
    with pytest.raises(UnsafeCheckpointError, match="checkpoint.pth: refused"):
        _train(trained_exp, an4_dirs, exp_copy, "--resume", "true", "--max_epoch", "3")
    assert not marker.exists()


def test_nbest_averaging_refuses_a_crafted_epoch_file(exp_copy, tmp_path):
    from espnet2.main_funcs.average_nbest_models import average_nbest_models
    from espnet2.train.reporter import Reporter

    reporter = Reporter()
    reporter.load_state_dict(load_checkpoint(exp_copy / "checkpoint.pth")["reporter"])
    marker = tmp_path / "pwned"
    for e in (1, 2):
        _hostile_pth(exp_copy / f"{e}epoch.pth", marker)
    with weights_only_loads(), pytest.raises(UnsafeCheckpointError, match="epoch.pth: refused"):
        average_nbest_models(exp_copy, reporter, [("valid", "acc", "max")], nbest=2)
    assert not marker.exists()


@pytest.mark.parametrize("entry", ["asr_train", "asr_inference"])
def test_espnets_own_asr_entry_points_load_weights_only(entry, tmp_path, monkeypatch):
    """Stage 9 / --model_type seq2seq run ESPnet's ASRTask and Speech2Text through
    espnet_speechllm.bin.asr_train / asr_inference: their torch.load(weights_only=False)
    (--init_param, --resume, averaging, --asr_model_file) refuses a crafted file."""
    import importlib

    module = importlib.import_module(f"espnet_speechllm.bin.{entry}")
    marker = tmp_path / "pwned"
    crafted = _hostile_pth(tmp_path / "model.pth", marker)

    def espnet_main(cmd=None):  # what ESPnet does with the file it is given
        torch.load(crafted, map_location="cpu", weights_only=False)

    if entry == "asr_train":
        monkeypatch.setattr(module.ASRTask, "main", classmethod(lambda cls, cmd=None: espnet_main(cmd)))
    else:
        monkeypatch.setattr(module.asr_inference, "main", espnet_main)
    with pytest.raises(UnsafeCheckpointError, match="model.pth: refused"):
        module.main([])
    assert not marker.exists()
