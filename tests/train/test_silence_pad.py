"""train/silence_pad.py and the preprocessor's --speech_pad_range: room-like silence around
training speech, before ESPnet's noise augmentation; none in validation."""

import numpy as np
import pytest

from espnet_speechllm.train.silence_pad import FLOOR_DB, pad_with_silence, parse_pad_range
from espnet_speechllm.train.speechllm_preprocessor import SpeechLLMPreprocessor


def test_padding_keeps_the_speech_and_adds_quiet_silence_of_the_drawn_length():
    speech = np.sin(np.arange(16000) / 5.0).astype(np.float32)  # RMS 0.707
    rng = np.random.RandomState(0)
    before, after = (int(round(x * 16000)) for x in np.random.RandomState(0).uniform(0.1, 0.5, 2))
    out = pad_with_silence(speech, 16000, 0.1, 0.5, rng)
    assert out.dtype == np.float32 and out.shape == (before + 16000 + after,)
    assert 1600 <= before <= 8000 and 1600 <= after <= 8000 and before != after
    np.testing.assert_array_equal(out[before:before + 16000], speech)
    pad_db = 10 * np.log10(np.mean(np.concatenate([out[:before], out[-after:]]) ** 2) / 0.5)
    assert abs(pad_db + FLOOR_DB) < 1.0


def test_multichannel_speech_is_padded_on_the_time_axis():
    out = pad_with_silence(np.ones((100, 2), np.float32), 1000, 0.01, 0.01)
    assert out.shape == (120, 2) and (out[10:110] == 1).all()


@pytest.mark.parametrize("value", ["0.5", "a_b", "0.5_0.1", "-0.1_0.2"])
def test_a_bad_range_is_named(value):
    with pytest.raises(ValueError, match=f"speech_pad_range '{value}'"):
        parse_pad_range(value)


def test_preprocessor_pads_training_speech_only():
    speech = np.ones(1000, np.float32)
    train = SpeechLLMPreprocessor(train=True, speech_pad_range="0.1_0.1", fs=1000)
    assert train("u", {"speech": speech.copy()})["speech"].shape == (1200,)
    never = SpeechLLMPreprocessor(train=True, speech_pad_range="0.1_0.1", speech_pad_apply_prob=0.0, fs=1000)
    assert never("u", {"speech": speech.copy()})["speech"].shape == (1000,)
    valid = SpeechLLMPreprocessor(train=False, speech_pad_range="0.1_0.1", fs=1000)
    assert valid("u", {"speech": speech.copy()})["speech"].shape == (1000,)


def test_task_options_reach_the_preprocessor(tmp_path, tiny_tokenizer):
    import yaml

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from tiny import tiny_train_config

    conf = tmp_path / "train.yaml"
    conf.write_text(yaml.safe_dump(tiny_train_config(tiny_tokenizer)))
    args = SpeechLLMTask.get_parser().parse_args(
        ["--config", str(conf), "--output_dir", "x", "--speech_pad_range", "0.25_0.25", "--fs", "8000"])
    pre = SpeechLLMTask.build_preprocess_fn(args, train=True)
    out = pre("u", {"speech": np.ones(8000, np.float32), "text": "THE CAT"})
    assert out["speech"].shape == (12000,)
    default = SpeechLLMTask.get_parser().parse_args(["--config", str(conf), "--output_dir", "x"])
    assert default.speech_pad_range is None and default.fs == 16000


def test_a_config_from_before_the_padding_options_still_builds(tmp_path, tiny_tokenizer):
    """Decoding a model trained before --speech_pad_range: its config.yaml has no such key."""
    import yaml

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from tiny import tiny_train_config

    conf = tmp_path / "train.yaml"
    conf.write_text(yaml.safe_dump(tiny_train_config(tiny_tokenizer)))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(conf), "--output_dir", "x"])
    for name in ("speech_pad_range", "speech_pad_apply_prob", "fs"):
        delattr(args, name)
    pre = SpeechLLMTask.build_preprocess_fn(args, train=False)
    assert pre("u", {"speech": np.ones(800, np.float32), "text": "THE"})["speech"].shape == (800,)
