"""Synthesise utterances with espeak-ng (or flite) + sox and write them as a Kaldi data dir.

Shared by the synthetic recipes (ASR, ST, multilingual): each recipe picks its own
texts and voices, writes them as an items TSV (``utt_id voice rate pitch text``,
tab-separated) and calls this module::

    python "${MAIN_ROOT}/local/espeak_synth.py" \
        --items train.tsv --wav_dir downloads/wav/train --data_dir data/train --nj 2

Audio is 16 kHz mono 16-bit PCM WAV. The same items give byte-identical wavs: espeak-ng
and flite are deterministic and sox runs without dither.

A voice ``flite:<name>`` (``flite:slt``, ``flite:awb``, ``flite:rms``, ``flite:kal16``;
``flite -lv`` lists them) is read by flite (``apt-get install flite``): its voices are
built from recordings of real speakers (slt, awb, rms: CMU ARCTIC; kal16: a diphone set),
a voice family espeak-ng's formant synthesis does not have. The rate becomes flite's duration stretch (175 wpm = 1.0) and
the pitch a sox pitch shift of 8 cents per step from 50.
"""

import argparse
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import soundfile

from espnet_speechllm.recipe.kaldi_dir import spk2utt_of
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import write_map

SAMPLE_RATE = 16000

# binary -> Debian package that provides it
_TOOLS = {"espeak-ng": "espeak-ng", "sox": "sox"}
FLITE = "flite:"


@dataclass(frozen=True)
class SynthItem:
    """One utterance to synthesise.

    Args:
        utt_id: Utterance id; must start with ``speaker + "-"`` (see ``speaker_id``).
        text: Transcript written to ``text``; espeak-ng reads it lower-cased.
        voice: espeak-ng voice, optionally + variant: ``en-us``, ``en-gb-scotland+f3``;
            or a flite voice: ``flite:slt``.
        rate: Speaking rate in words per minute (espeak-ng ``-s``).
        pitch: Pitch 0-99 (espeak-ng ``-p``).
    """

    utt_id: str
    text: str
    voice: str
    rate: int
    pitch: int

    @property
    def speaker(self) -> str:
        return speaker_id(self.voice, self.rate, self.pitch)


def speaker_id(voice: str, rate: int, pitch: int) -> str:
    """Speaker id of a voice + rate + pitch combination.

    ``speaker_id("en-gb-scotland+f3", 160, 45) == "engbscotland_f3_r160_p45"``. Only
    letters, digits and ``_``, and a fixed-width suffix, so no speaker id is a prefix of
    another and ``<spk>-<index>`` utt ids sort grouped by speaker (``-`` < ``0``).
    """
    if not 0 <= pitch <= 99 or not 0 < rate <= 999:
        raise ValueError(
            f"rate must be 1-999 and pitch 0-99, got rate={rate} pitch={pitch}"
        )
    parts = [re.sub(r"[^0-9A-Za-z]", "", p) for p in voice.split("+")]  # flite:slt -> fliteslt
    return "_".join(parts + [f"r{rate:03d}", f"p{pitch:02d}"])


def check_tools(flite: bool = False) -> None:
    """Raise RuntimeError naming the apt package of any missing binary (flite too when
    ``flite``)."""
    tools = {**_TOOLS, "flite": "flite"} if flite else _TOOLS
    missing = [
        f"{b} (apt-get install {pkg})"
        for b, pkg in tools.items()
        if shutil.which(b) is None
    ]
    if missing:
        raise RuntimeError(
            "espeak synthesis needs binaries not on PATH: " + ", ".join(missing)
        )


def check_flite_voices(items: Iterable[SynthItem]) -> None:
    """Raise ValueError naming the first utterance whose ``flite:`` voice flite lacks:
    flite reads an unknown voice with its default one and exits 0."""
    wanted = [it for it in items if it.voice.startswith(FLITE)]
    if not wanted:
        return
    listing = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
    have = set(listing.split(":", 1)[-1].split())
    for it in wanted:
        if it.voice[len(FLITE):] not in have:
            raise ValueError(
                f"utterance {it.utt_id}: flite has no voice '{it.voice[len(FLITE):]}' "
                f"(flite -lv: {' '.join(sorted(have))})"
            )


def _synth_flite(item: SynthItem, wav_path: Path) -> None:
    raw = wav_path.with_name(wav_path.name + ".flite.wav")
    tmp = wav_path.with_name(wav_path.name + ".tmp.wav")
    flite = ["flite", "-voice", item.voice[len(FLITE):], "--setf"]
    flite += [f"duration_stretch={175 / item.rate:.3f}", "-t", item.text.lower(), "-o", str(raw)]
    sox = ["sox", "-D", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(tmp)]
    sox += ["pitch", str(8 * (item.pitch - 50))]
    for cmd in (flite, sox):
        done = subprocess.run(cmd, capture_output=True)
        if done.returncode != 0:
            raw.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
            raise RuntimeError(
                f"synthesis of utterance {item.utt_id} (voice {item.voice}) failed: "
                f"{cmd[0]} rc={done.returncode} {done.stderr.decode().strip()!r}"
            )
    raw.unlink()
    _finish(item, tmp, wav_path)


def _synth_one(item: SynthItem, wav_path: Path) -> None:
    if item.voice.startswith(FLITE):
        return _synth_flite(item, wav_path)
    espeak = ["espeak-ng", "--stdout", "--stdin", "-v", item.voice]
    espeak += ["-s", str(item.rate), "-p", str(item.pitch)]
    # -D: no dither, so the output is a deterministic function of the input.
    sox = ["sox", "-D", "-t", "wav", "-", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16"]
    tmp = wav_path.with_name(wav_path.name + ".tmp.wav")
    tts = subprocess.Popen(
        espeak, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    conv = subprocess.Popen(sox + [str(tmp)], stdin=tts.stdout, stderr=subprocess.PIPE)
    tts.stdout.close()  # sox holds the only read end now, so EOF/SIGPIPE propagate
    try:
        # espeak-ng spells all-caps words as abbreviations ("US" -> "U S"), and
        # transcripts are often upper case: speak the lower-cased text.
        tts.stdin.write(item.text.lower().encode())
        tts.stdin.close()
    except BrokenPipeError:
        pass  # espeak-ng exited early (e.g. unknown voice); its rc and stderr say why
    tts_err = tts.stderr.read()
    tts.wait()
    _, sox_err = conv.communicate()
    if tts.returncode != 0 or conv.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(
            f"synthesis of utterance {item.utt_id} (voice {item.voice}) failed: "
            f"espeak-ng rc={tts.returncode} {tts_err.decode().strip()!r}, "
            f"sox rc={conv.returncode} {sox_err.decode().strip()!r}"
        )
    _finish(item, tmp, wav_path)


def _finish(item: SynthItem, tmp: Path, wav_path: Path) -> None:
    if soundfile.info(str(tmp)).frames == 0:
        tmp.unlink()
        raise RuntimeError(
            f"utterance {item.utt_id}: {item.voice} produced no audio for {item.text!r}"
        )
    tmp.replace(wav_path)  # atomic: an interrupted run never leaves a truncated wav


def synthesise(
    items: Sequence[SynthItem], wav_dir: Path, nj: int = 1
) -> Dict[str, Path]:
    """Synthesise every item to ``wav_dir/<utt_id>.wav`` with ``nj`` parallel jobs.

    Returns:
        Absolute wav path per utt id.
    """
    check_tools(flite=any(it.voice.startswith(FLITE) for it in items))
    _check_unique(items)
    check_flite_voices(items)
    wav_dir = Path(wav_dir).absolute()
    wav_dir.mkdir(parents=True, exist_ok=True)
    paths = {it.utt_id: wav_dir / f"{it.utt_id}.wav" for it in items}
    # Threads suffice: the work happens in the espeak-ng / sox child processes.
    with ThreadPoolExecutor(max_workers=max(1, nj)) as pool:
        for _ in pool.map(lambda it: _synth_one(it, paths[it.utt_id]), items):
            pass
    return paths


def _check_unique(items: Iterable[SynthItem]) -> None:
    seen = set()
    for it in items:
        if it.utt_id in seen:
            raise ValueError(f"duplicate utt id {it.utt_id}")
        seen.add(it.utt_id)


def write_kaldi_dir(
    items: Sequence[SynthItem], wav_paths: Dict[str, Path], data_dir: Path
) -> None:
    """Write ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``utt2dur``, sorted by id.

    Args:
        items: The synthesised utterances.
        wav_paths: Wav path per utt id (as returned by ``synthesise``).
        data_dir: Output Kaldi data dir (created).
    """
    _check_unique(items)
    for it in items:
        if not it.utt_id.startswith(it.speaker + "-"):
            raise ValueError(
                f"utt id {it.utt_id} must start with its speaker id '{it.speaker}-' "
                "so that Kaldi's sort order groups utterances by speaker"
            )
        if it.utt_id not in wav_paths:
            raise ValueError(f"no wav for utterance {it.utt_id}")
        if "\n" in it.text or not it.text.strip():
            raise ValueError(
                f"utterance {it.utt_id}: empty or multi-line text {it.text!r}"
            )
    write_data_dir(
        data_dir,
        wavs={it.utt_id: wav_paths[it.utt_id] for it in items},
        texts={it.utt_id: it.text for it in items},
        utt2spk={it.utt_id: it.speaker for it in items},
    )


def write_data_dir(
    data_dir: Path,
    wavs: Mapping[str, Path],
    texts: Mapping[str, str],
    utt2spk: Mapping[str, str],
) -> None:
    """Write ``wav.scp`` (absolute paths), ``text``, ``utt2spk``, ``spk2utt`` and
    ``utt2dur`` (read from the wavs) of a synthesised corpus, sorted by id."""
    data_dir = Path(data_dir)
    scp = {u: str(Path(w).absolute()) for u, w in wavs.items()}
    write_map(data_dir / "wav.scp", scp)
    write_map(data_dir / "text", texts)
    write_map(data_dir / "utt2spk", utt2spk)
    write_map(data_dir / "spk2utt", spk2utt_of(dict(utt2spk)))
    write_map(
        data_dir / "utt2dur",
        {u: f"{soundfile.info(w).duration:.3f}" for u, w in scp.items()},
    )


def read_items(path: Path) -> List[SynthItem]:
    """Read an items TSV: ``utt_id<TAB>voice<TAB>rate<TAB>pitch<TAB>text`` per line."""
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != 5:
            raise ValueError(
                f"{path}:{n}: expected 5 tab-separated fields, got {len(fields)}"
            )
        utt_id, voice, rate, pitch, text = fields
        items.append(SynthItem(utt_id, text, voice, int(rate), int(pitch)))
    return items


def write_items(items: Iterable[SynthItem], path: Path) -> None:
    """Write items in the TSV format ``read_items`` reads."""
    lines = [f"{i.utt_id}\t{i.voice}\t{i.rate}\t{i.pitch}\t{i.text}\n" for i in items]
    Path(path).write_text("".join(lines), encoding="utf-8")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Synthesise an items TSV (utt_id, voice, rate, pitch, text) with "
        "espeak-ng + sox to 16 kHz wavs and write a Kaldi data dir."
    )
    parser.add_argument(
        "--items", type=Path, required=True, help="items TSV to synthesise"
    )
    parser.add_argument("--wav_dir", type=Path, required=True, help="where the wavs go")
    parser.add_argument(
        "--data_dir", type=Path, required=True, help="Kaldi data dir to write"
    )
    parser.add_argument("--nj", type=int, default=1, help="parallel synthesis jobs")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    items = read_items(args.items)
    paths = synthesise(items, args.wav_dir, nj=args.nj)
    write_kaldi_dir(items, paths, args.data_dir)


if __name__ == "__main__":
    main()
