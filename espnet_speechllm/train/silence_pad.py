"""Pad an utterance with room-like silence before and after it (training augmentation).

Synthetic training speech (espeak-ng, flite) starts and ends on the word, while real
recordings hold a few hundred milliseconds of room silence around it (the mini_an4
utterances: 0.3-0.4 s before, 0.1-0.3 s after). A speech-LLM that also learns to decode
non-speech to "" can then take a real utterance's silence for non-speech (RESULTS.md,
espeak_en "Silence padding"). ESPnet's preprocessor augmentations (noise, RIR, the
``data_aug_effects`` of ``espnet2.layers.augmentation``) have no padding, so it is written here.
"""

from typing import Tuple

import numpy as np

from espnet_speechllm.utils.seconds_pair import parse_seconds_pair

# The padding's level below the utterance's RMS: a quiet room rather than digital zeros
# (Whisper's log-mel floor), so that ESPnet's noise augmentation, applied after it, and
# real silence both look alike.
FLOOR_DB = 40.0


def parse_pad_range(value: str) -> Tuple[float, float]:
    """``"0.0_0.5"`` -> ``(0.0, 0.5)`` seconds per side; names a bad value."""
    return parse_seconds_pair(value, "speech_pad_range", "<min>_<max>", ordered=True)


def pad_with_silence(
    speech: np.ndarray, fs: int, low: float, high: float, rng: np.random.RandomState = np.random
) -> np.ndarray:
    """``(T,) or (T, C) -> (T + a + b, ...)``: ``a``, ``b`` ~ U(low, high) s of silence FLOOR_DB below the RMS."""
    before, after = (int(round(rng.uniform(low, high) * fs)) for _ in range(2))
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if speech.size else 0.0
    scale = rms * 10.0 ** (-FLOOR_DB / 20.0)
    pads = [rng.standard_normal((n,) + speech.shape[1:]) * scale for n in (before, after)]
    return np.concatenate([pads[0].astype(speech.dtype), speech, pads[1].astype(speech.dtype)], axis=0)
