import numpy as np
import pytest

from espnet_speechllm.utils.trim_silence import parse_keep, speech_span, trim_silence

FS = 16000
TOL = 400 + 160  # a frame + a hop, in samples


def _tone(seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _quiet(seconds: float, db: float, seed: int = 0) -> np.ndarray:
    """White noise ``db`` below the tone's RMS (0.5 / sqrt(2))."""
    rms = 0.5 / np.sqrt(2) * 10 ** (-db / 20)
    return (rms * np.random.default_rng(seed).standard_normal(int(seconds * FS))).astype(np.float32)


def test_silence_is_cut_to_the_kept_seconds():
    """0.4 s quiet + 0.5 s tone + 0.8 s quiet -> from the tone's onset to 0.3 s after it
    (within a frame + a hop: librosa's frames are centred)."""
    x = np.concatenate([_quiet(0.4, 50), _tone(0.5), _quiet(0.8, 50, seed=1)])
    y = trim_silence(x, FS, top_db=35, keep=(0.0, 0.3))
    assert abs(len(y) - 0.8 * FS) <= TOL
    start = int(np.flatnonzero(x == y[0])[0])
    assert abs(start - 0.4 * FS) <= TOL
    np.testing.assert_array_equal(y, x[start : start + len(y)])


def test_the_kept_span_is_a_slice_of_the_input():
    x = np.concatenate([_quiet(0.3, 50), _tone(0.5), _quiet(0.5, 50, seed=1)])
    start, end = speech_span(x, FS, 35)
    assert abs(start - 0.3 * FS) <= TOL and abs(end - 0.8 * FS) <= TOL
    y = trim_silence(x, FS, 35, keep=(0.1, 0.0))
    np.testing.assert_array_equal(y, x[start - int(0.1 * FS) : end])


def test_what_is_not_silence_at_top_db_is_kept():
    """Noise 20 dB below the tone is not silence at 35 dB; at 15 dB it is."""
    x = np.concatenate([_quiet(0.3, 20), _tone(0.5), _quiet(0.5, 20, seed=1)])
    assert len(trim_silence(x, FS, 35, keep=(0.0, 0.0))) == len(x)
    assert abs(len(trim_silence(x, FS, 15, keep=(0.0, 0.0))) - 0.5 * FS) <= TOL


def test_steady_noise_and_zeros_are_left_whole():
    noise = _quiet(1.0, 10)
    assert len(trim_silence(noise, FS, 35)) == len(noise)
    zeros = np.zeros(FS, dtype=np.float32)
    assert len(trim_silence(zeros, FS, 35)) == FS
    short = _tone(0.01)  # shorter than one frame
    assert len(trim_silence(short, FS, 35)) == len(short)


def test_padding_with_zeros_trims_back_to_the_same_samples():
    """Up to the frame that reaches into the padding: at most a frame of its zeros stays."""
    x = np.concatenate([_tone(0.5), _quiet(0.2, 50)])
    padded = np.concatenate([np.zeros(8000, dtype=np.float32), x, np.zeros(16000, dtype=np.float32)])
    y = trim_silence(padded, FS, 35, (0.0, 0.1))
    alone = trim_silence(x, FS, 35, (0.0, 0.1))
    lead = len(y) - len(alone)
    assert 0 <= lead <= 400 and not y[:lead].any()
    np.testing.assert_array_equal(y[lead:], alone)


def test_keep_parses_lead_and_trail_seconds():
    assert parse_keep("0.0_0.3") == (0.0, 0.3)
    with pytest.raises(ValueError, match="expected <lead>_<trail> seconds"):
        parse_keep("0.3")
    with pytest.raises(ValueError, match="must be >= 0"):
        parse_keep("-0.1_0.3")
