"""to_model_input: mono, at the model's rate, finite, each refusal naming the utterance."""

import logging

import numpy as np
import pytest

from espnet_speechllm.utils.audio_input import AudioError, resample, to_model_input


def _tone(n, fs, f=440.0):
    return (0.3 * np.sin(2 * np.pi * f * np.arange(n) / fs)).astype(np.float32)


@pytest.mark.parametrize("layout", ["samples_channels", "channels_samples"])
def test_stereo_is_averaged_not_interleaved(layout, caplog):
    left, right = _tone(1600, 16000), _tone(1600, 16000, 880.0)
    x = np.stack([left, right], axis=1 if layout == "samples_channels" else 0)
    with caplog.at_level(logging.WARNING):
        y = to_model_input(x, 16000, 16000, "utt1")
    assert y.shape == (1600,) and y.dtype == np.float32
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-7)
    assert "utt1: 2 channels downmixed to mono" in caplog.text


def test_one_channel_and_mono_pass_unchanged(caplog):
    x = _tone(800, 16000)
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(to_model_input(x, 16000, 16000, "u"), x)
        assert np.array_equal(to_model_input(x[None], 16000, 16000, "u"), x)
        assert np.array_equal(to_model_input(x[:, None], 16000, 16000, "u"), x)
    assert caplog.text == ""


@pytest.mark.parametrize("fs_in", [8000, 44100])
def test_other_rates_are_resampled_with_a_warning(fs_in, caplog):
    x = _tone(fs_in // 2, fs_in)  # 0.5 s
    with caplog.at_level(logging.WARNING):
        y = to_model_input(x, fs_in, 16000, "utt2")
    assert y.shape == (8000,)
    np.testing.assert_allclose(y, resample(x, fs_in, 16000))
    # Still a 440 Hz tone at the new rate: the peak of its spectrum.
    assert abs(np.argmax(np.abs(np.fft.rfft(y))) * 16000 / len(y) - 440) < 4
    assert f"utt2: {fs_in} Hz audio resampled to the model's 16000 Hz" in caplog.text


def test_another_rate_is_refused_without_resampling():
    with pytest.raises(AudioError, match="utt3: sampled at 8000 Hz, the model takes 16000 Hz"):
        to_model_input(_tone(800, 8000), 8000, 16000, "utt3", allow_resample=False)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(bad):
    x = _tone(1600, 16000)
    x[[7, 100]] = bad
    with pytest.raises(AudioError, match="utt4: 2 non-finite samples \\(NaN / inf\\), the first at sample 7"):
        to_model_input(x, 16000, 16000, "utt4")
    with pytest.raises(AudioError, match="utt4: 2 non-finite"):  # before resampling spreads it
        to_model_input(x, 8000, 16000, "utt4")


def test_more_than_two_dimensions_are_refused():
    with pytest.raises(AudioError, match="u: audio of shape \\(2, 2, 4\\)"):
        to_model_input(np.zeros((2, 2, 4)), 16000, 16000, "u")
