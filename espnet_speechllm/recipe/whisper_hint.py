#!/usr/bin/env python3
"""Write Whisper's own 1-best as a per-utterance text hint next to the audio.

::

    python -m espnet_speechllm.recipe.whisper_hint --hyp exp/whisper_hint/decode_whisper/test/text \\
        --data dump/raw/test [--no_speech_prob exp/whisper_hint/decode_whisper/test/no_speech_prob]

writes ``<data>/instruction`` (the chat layout's per-utterance instruction, read by stages
10-12 from any data dir that has it; ``speechllm.sh --whisper_hint true`` runs this in
stage 8): ``<utt> Transcribe the audio. A first guess, which may be wrong: "<hyp>"``. The speech-LLM then sees the audio and the encoder's own
decoder's guess (the generative-error-correction idea with the audio kept), so that it can
learn to keep Whisper's words off its training domain and correct them where the audio
says otherwise. Every utterance of ``<data>/wav.scp`` must have a hypothesis line (an
empty hypothesis is a line with the id alone).

``--no_speech_prob`` (whisper_inference's ``no_speech_prob``) adds Whisper's own no-speech
probability to the hint, rounded to one decimal (``TEMPLATE_NO_SPEECH``): Whisper often
writes words for noise or babble, and its hypothesis alone does not say how sure it was
that there is speech at all; the LLM learns where to trust that number.
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, write_map

TEMPLATE = 'Transcribe the audio. A first guess, which may be wrong: "{hyp}"'
TEMPLATE_NO_SPEECH = (
    "Transcribe the audio. Whisper's no-speech probability: {no_speech:.1f}. "
    'A first guess, which may be wrong: "{hyp}"'
)


def hints(
    utts: Sequence[str], hyps: Dict[str, str], hyp_file: Path,
    no_speech: Optional[Dict[str, str]] = None, no_speech_file: Optional[Path] = None,
) -> Dict[str, str]:  # fmt: skip
    """``utt -> instruction``; names the first utterance without a hypothesis (or probability)."""
    for values, path, what in ((hyps, hyp_file, "hypothesis"), (no_speech, no_speech_file, "no-speech probability")):
        missing = [u for u in utts if values is not None and u not in values]
        if missing:
            raise KeyError(f"{path}: no {what} for {len(missing)} utterance(s), e.g. {missing[0]!r}")
    if no_speech is None:
        return {u: TEMPLATE.format(hyp=" ".join(hyps[u].split())) for u in utts}
    probs = no_speech_probs(utts, no_speech, no_speech_file)
    return {u: TEMPLATE_NO_SPEECH.format(hyp=" ".join(hyps[u].split()), no_speech=probs[u]) for u in utts}


def no_speech_probs(utts: Sequence[str], no_speech: Dict[str, str], path: Optional[Path]) -> Dict[str, float]:
    """``utt -> p`` of whisper_inference's ``no_speech_prob`` map; names a value that is no probability."""
    out = {}
    for u in utts:
        try:
            out[u] = float(no_speech[u])
        except ValueError:
            raise KeyError(f"{path}: utt {u!r}: not a probability: {no_speech[u]!r}") from None
        if not 0.0 <= out[u] <= 1.0:
            raise KeyError(f"{path}: utt {u!r}: not a probability: {no_speech[u]!r}")
    return out


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hyp", type=Path, required=True, help="Kaldi text: <utt> <Whisper 1-best>")
    p.add_argument("--data", type=Path, required=True, help="data dir: its wav.scp ids; instruction written here")
    p.add_argument("--no_speech_prob", type=Path, default=None,
                   help="Kaldi map: <utt> <Whisper's no-speech probability>, added to each hint")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    try:
        no_speech = read_map(args.no_speech_prob) if args.no_speech_prob else None
        out = hints(list(read_map(args.data / "wav.scp")), read_map(args.hyp), args.hyp, no_speech, args.no_speech_prob)
    except KeyError as e:
        sys.exit(f"whisper_hint: {e.args[0]}")
    except FileNotFoundError as e:  # e.g. a Whisper without a no-speech token wrote no no_speech_prob
        sys.exit(f"whisper_hint: {e.filename}: no such file")
    write_map(args.data / "instruction", out)
    print(f"{args.data / 'instruction'}: {len(out)} hints")


if __name__ == "__main__":
    main()
