"""Non-speech signals synthesised offline with sox and espeak-ng (16 kHz mono 16-bit).

Kinds (``KINDS``):

- ``white``, ``pink``, ``brown``: coloured noise (sox ``synth whitenoise|pinknoise|brownnoise``);
- ``tone``: one sine, steady or swept (``synth sine F`` / ``sine F1-F2``);
- ``chord``: three to four simultaneous sines of a major / minor / seventh chord;
- ``music``: a sequence of plucked or square-wave notes of a pentatonic scale;
- ``babble``: three to five espeak-ng voices reading word lists, mixed and reversed
  (speech-like spectra, no intelligible word);
- ``clicks``: near silence (a -70 dB noise floor) with a few clicks.

Every signal is a deterministic function of (kind, seconds, rng state): sox runs in
repeatable mode (``-R``) and the randomness comes from ``rng`` (noise segments are cut
at a random offset of a longer repeatable noise, so two calls differ).
"""

import random
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Sequence

SAMPLE_RATE = 16000
KINDS = ("white", "pink", "brown", "tone", "chord", "music", "babble", "clicks")
_OUT = ["-r", str(SAMPLE_RATE), "-c", "1", "-b", "16"]
# Pentatonic scale from A3: music-like but no melody of any corpus.
_SCALE = [220.0 * 2 ** (s / 12) for s in (0, 2, 4, 7, 9, 12, 14, 16, 19, 21)]
_CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10))
# Babble material (reversed, so the words themselves are never heard).
_WORDS = (
    "market morning window river people table yellow garden number paper music "
    "station winter street money letter animal mountain doctor kitchen picture "
    "island engine village summer teacher country evening weather planet bottle"
).split()
_VOICES = ("en-us", "en+m3", "en+f2", "en-gb-x-rp+m1", "en+f4", "en-us+m7", "en+f5")


def _sox(args: Sequence[str]) -> None:
    proc = subprocess.run(["sox", "-R", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sox {' '.join(args)} failed: {proc.stderr.strip()}")


def _gain(rng: random.Random) -> List[str]:
    """Normalise to a random peak level between -20 and -3 dBFS."""
    return ["gain", "-n", f"{rng.uniform(-20, -3):.1f}"]


def noise(color: str) -> Callable[[Path, float, random.Random], None]:
    def synth(path: Path, seconds: float, rng: random.Random) -> None:
        offset = rng.uniform(0, 30)
        _sox(["-n", *_OUT, str(path), "synth", f"{offset + seconds:.3f}", f"{color}noise"]
             + ["trim", f"{offset:.3f}"] + _gain(rng))

    return synth


def tone(path: Path, seconds: float, rng: random.Random) -> None:
    f1 = rng.uniform(100, 3000)
    freq = f"{f1:.1f}" if rng.random() < 0.5 else f"{f1:.1f}-{rng.uniform(100, 3000):.1f}"
    shape = rng.choice(("sine", "triangle"))
    _sox(["-n", *_OUT, str(path), "synth", f"{seconds:.3f}", shape, freq] + _gain(rng))


def chord(path: Path, seconds: float, rng: random.Random) -> None:
    root = rng.uniform(130, 520)
    notes = [f"{root * 2 ** (s / 12):.1f}" for s in rng.choice(_CHORDS)]
    synth = [part for f in notes for part in ("sine", f)]
    _sox(["-c", str(len(notes)), "-r", str(SAMPLE_RATE), "-n", *_OUT, str(path), "synth",
          f"{seconds:.3f}", *synth, "fade", "0.05", f"{seconds:.3f}", "0.2"] + _gain(rng))


def music(path: Path, seconds: float, rng: random.Random) -> None:
    shape = rng.choice(("pluck", "square", "triangle"))
    effects: List[str] = []
    left = seconds
    while left > 0.05:
        dur = min(left, rng.choice((0.125, 0.25, 0.25, 0.5)))
        effects += ["synth", f"{dur:.3f}", shape, f"{rng.choice(_SCALE):.1f}", ":"]
        left -= dur
    _sox(["-n", *_OUT, str(path), *effects[:-1]])
    _normalise(path, rng)


def babble(path: Path, seconds: float, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        voices = []
        for v in range(rng.randint(3, 5)):
            words = " ".join(rng.choice(_WORDS) for _ in range(int(4 * seconds) + 8))
            wav = Path(tmp, f"v{v}.wav")
            cmd = ["espeak-ng", "-w", str(wav), "-v", rng.choice(_VOICES)]
            cmd += ["-s", str(rng.randint(130, 200)), "-p", str(rng.randint(20, 80)), words]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"espeak-ng failed: {proc.stderr.strip()}")
            voices.append(str(wav))
        _sox(["-m", *voices, *_OUT, str(path), "reverse", "trim", "0", f"{seconds:.3f}"]
             + _gain(rng))


def clicks(path: Path, seconds: float, rng: random.Random) -> None:
    """-70 dB pink floor plus 1-6 clicks (2 ms square bursts) at random times."""
    with tempfile.TemporaryDirectory() as tmp:
        parts = [str(Path(tmp, "floor.wav"))]
        _sox(["-n", *_OUT, parts[0], "synth", f"{seconds:.3f}", "pinknoise", "gain", "-n", "-70"])
        for c in range(rng.randint(1, 6)):
            click = str(Path(tmp, f"c{c}.wav"))
            at = rng.uniform(0, max(0.0, seconds - 0.01))
            _sox(["-n", *_OUT, click, "synth", "0.002", "square", f"{rng.uniform(500, 4000):.0f}",
                  "gain", "-n", f"{rng.uniform(-12, -1):.1f}", "pad", f"{at:.3f}",
                  f"{max(0.0, seconds - at - 0.002):.3f}"])
            parts.append(click)
        _sox(["-m", *parts, *_OUT, str(path), "trim", "0", f"{seconds:.3f}"])


def _normalise(path: Path, rng: random.Random) -> None:
    tmp = path.with_name(path.stem + ".norm.wav")
    _sox([str(path), *_OUT, str(tmp)] + _gain(rng))
    tmp.replace(path)


SYNTHS: Dict[str, Callable[[Path, float, random.Random], None]] = {
    "white": noise("white"),
    "pink": noise("pink"),
    "brown": noise("brown"),
    "tone": tone,
    "chord": chord,
    "music": music,
    "babble": babble,
    "clicks": clicks,
}


def synthesise(kind: str, path: Path, seconds: float, rng: random.Random) -> None:
    """Write a ``seconds``-long signal of ``kind`` to ``path`` (a 16 kHz wav)."""
    if kind not in SYNTHS:
        raise ValueError(f"unknown non-speech kind {kind!r}, expected one of {KINDS}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    SYNTHS[kind](Path(path), seconds, rng)
