"""One utterance's audio: read a wav.scp value, then mono, at the model's rate, finite.

The one reader of wav.scp audio in the project: stage 3 (``recipe/format_wav_scp.py``),
decoding (``train/decode_dataset.py``, ``Speech2TextLLM``) and Whisper alone.
"""

import io
import logging
import subprocess
from pathlib import Path
from typing import Tuple

import numpy as np
import soundfile


class AudioError(ValueError):
    """One utterance's audio cannot be read, or cannot be what the model takes."""


def read_audio(value: str) -> Tuple[np.ndarray, int]:
    """Read a wav.scp value: a path, or ``"cmd |"`` whose stdout is a sound file.

    Returns:
        Samples (T, C) float32 in [-1, 1) and the sample rate.
    """
    if value.endswith("|"):
        proc = subprocess.run(value[:-1], shell=True, capture_output=True)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise AudioError(f"command failed (code {proc.returncode}): {' '.join(err)}")
        source = io.BytesIO(proc.stdout)
    else:
        if not Path(value).is_file():
            raise AudioError("file not found")
        source = value
    try:
        return soundfile.read(source, dtype="float32", always_2d=True)
    except (RuntimeError, TypeError, ValueError) as e:  # libsndfile's errors
        raise AudioError(f"unreadable: {e}") from e


def resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Band-limited resampling.  (T,) -> (T * fs_out / fs_in,)"""
    # Imported here: torch costs seconds to import and most corpora need no resampling.
    import torch
    import torchaudio.functional

    return torchaudio.functional.resample(torch.from_numpy(x), fs_in, fs_out).numpy()


def to_model_input(
    x: np.ndarray, fs_in: int, fs: int, key: str, allow_resample: bool = True
) -> np.ndarray:
    """Samples as the model takes them: mono, at ``fs``, all finite.  -> (S,) float32

    Args:
        x: (S,), or (S, C) as soundfile reads it, or (C, S) as torchaudio loads it
            (the shorter side is the channels): channels are averaged, with a warning.
        fs_in: Its sample rate.
        fs: The model's rate; another rate is resampled (torchaudio), with a warning.
        key: The utterance, named in warnings and errors.
        allow_resample: Refuse another rate instead.

    Raises:
        AudioError: NaN / inf samples, more than 2 dimensions, or another rate with
            ``allow_resample=False``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        if x.shape[0] < x.shape[1]:
            x = x.T  # (C, S) -> (S, C)
        if x.shape[1] > 1:
            logging.warning(f"{key}: {x.shape[1]} channels downmixed to mono")
        x = x.mean(axis=1)  # (S, C) -> (S,)
    elif x.ndim != 1:
        raise AudioError(f"{key}: audio of shape {x.shape}, expected (samples,) or 2-D")
    bad = ~np.isfinite(x)
    if bad.any():
        raise AudioError(
            f"{key}: {int(bad.sum())} non-finite samples (NaN / inf), the first at "
            f"sample {int(bad.argmax())}"
        )
    if fs_in != fs:
        if not allow_resample:
            raise AudioError(
                f"{key}: sampled at {fs_in} Hz, the model takes {fs} Hz (resampling is off)"
            )
        logging.warning(f"{key}: {fs_in} Hz audio resampled to the model's {fs} Hz")
        x = resample(x, fs_in, fs)
    return x
