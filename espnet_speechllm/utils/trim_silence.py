"""Trim the silence around an utterance to what the training audio had.

A model trained on speech that starts at once (espeak-ng's) can take the 0.3 s of
silence that opens a real recording for non-speech (egs2/espeak_en RESULTS.md,
"Generalization"). Decoding with ``--trim_silence_db`` cuts each end down to at most
``keep`` seconds of silence. What counts as silence is librosa's
``effects.trim``: frames (25 ms, hop 10 ms at 16 kHz) more than ``top_db`` below
the loudest frame.
"""

from typing import Tuple

import numpy as np

from espnet_speechllm.utils.seconds_pair import parse_seconds_pair


def parse_keep(value: str) -> Tuple[float, float]:
    """``"0.0_0.3"`` -> (0.0, 0.3): the seconds of silence kept before / after the speech."""
    return parse_seconds_pair(value, "--trim_silence_keep", "<lead>_<trail>")


def speech_span(x: np.ndarray, fs: int, top_db: float) -> Tuple[int, int]:
    """``[start, end)`` samples from the first to the last frame within ``top_db`` of
    the loudest frame of ``x`` (S,); ``(0, len(x))`` where no frame is (all zeros)."""
    # librosa is ESPnet's own dependency; imported here as it costs a second.
    import librosa

    frame, hop = round(0.025 * fs), round(0.010 * fs)
    if len(x) < frame or not np.any(x):
        return 0, len(x)
    _, (start, end) = librosa.effects.trim(x, top_db=top_db, frame_length=frame, hop_length=hop)
    return (int(start), int(end)) if end > start else (0, len(x))


def trim_silence(
    x: np.ndarray, fs: int, top_db: float, keep: Tuple[float, float] = (0.0, 0.3)
) -> np.ndarray:
    """``x`` (S,) with at most ``keep`` = (lead, trail) seconds of silence at its ends.

    Args:
        x: Samples (S,).
        fs: Their rate.
        top_db: Frames this far below the loudest are silence (e.g. 35).
        keep: Seconds of silence left before / after the speech (espeak-ng's training
            speech opens at once and closes with ~0.3 s).
    """
    start, end = speech_span(x, fs, top_db)
    start = max(0, start - round(keep[0] * fs))
    end = min(len(x), end + round(keep[1] * fs))
    return x[start:end]
