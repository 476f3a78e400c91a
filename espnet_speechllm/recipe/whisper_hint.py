#!/usr/bin/env python3
"""Write Whisper's own 1-best as a per-utterance text hint next to the audio.

::

    python -m espnet_speechllm.recipe.whisper_hint --hyp exp/whisper_hint/decode_whisper/test/text \\
        --data dump/raw/test

writes ``<data>/instruction`` (the chat layout's per-utterance instruction, read by stages
10-12 from any data dir that has it; ``speechllm.sh --whisper_hint true`` runs this in
stage 8): ``<utt> Transcribe the audio. A first guess, which may be wrong: "<hyp>"``. The speech-LLM then sees the audio and the encoder's own
decoder's guess (the generative-error-correction idea with the audio kept), so that it can
learn to keep Whisper's words off its training domain and correct them where the audio
says otherwise. Every utterance of ``<data>/wav.scp`` must have a hypothesis line (an
empty hypothesis is a line with the id alone).
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, write_map

TEMPLATE = 'Transcribe the audio. A first guess, which may be wrong: "{hyp}"'


def hints(utts: Sequence[str], hyps: Dict[str, str], hyp_file: Path) -> Dict[str, str]:
    """``utt -> instruction``; names the first utterance without a hypothesis."""
    missing = [u for u in utts if u not in hyps]
    if missing:
        raise KeyError(f"{hyp_file}: no hypothesis for {len(missing)} utterance(s), e.g. {missing[0]!r}")
    return {u: TEMPLATE.format(hyp=" ".join(hyps[u].split())) for u in utts}


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hyp", type=Path, required=True, help="Kaldi text: <utt> <Whisper 1-best>")
    p.add_argument("--data", type=Path, required=True, help="data dir: its wav.scp ids; instruction written here")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    try:
        out = hints(list(read_map(args.data / "wav.scp")), read_map(args.hyp), args.hyp)
    except KeyError as e:
        sys.exit(f"whisper_hint: {e.args[0]}")
    write_map(args.data / "instruction", out)
    print(f"{args.data / 'instruction'}: {len(out)} hints")


if __name__ == "__main__":
    main()
