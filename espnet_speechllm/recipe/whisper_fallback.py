#!/usr/bin/env python3
"""Where a Whisper-hint speech-LLM wrote nothing but Whisper heard speech, keep Whisper's 1-best.

::

    python -m espnet_speechllm.recipe.whisper_fallback --threshold 0.3 \\
        --hyp exp/<model>/decode_<tag>/test/text --whisper exp/whisper_hint/decode_whisper/test \\
        --out_dir exp/<model>/decode_<tag>_whisperfallback0.3/test

A Whisper-hint speech-LLM (``speechllm.sh --whisper_hint true``) trained to decode non-speech to
"" may also decode real speech of voices unlike its training voices to "" (espeak_en RESULTS.md:
1 to 7 of the 7 mini_an4 utterances, depending on the seed), where Whisper's own no-speech
probability says it is speech. This writes ``<out_dir>/text``: the LLM's hypothesis, but
Whisper's where the LLM's is empty and Whisper's no-speech probability is below ``--threshold``;
and ``<out_dir>/fallback``: ``<utt> <no-speech probability>`` of each utterance it replaced.
``--whisper`` is the decode dir of the hints (its ``text`` and ``no_speech_prob``), so the
fallback costs no decoding. ``speechllm.sh --whisper_fallback_threshold T`` runs it in stage
12 and scores both decodes in stage 13.
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.recipe.whisper_hint import no_speech_probs
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import KaldiFormatError, read_map, read_map_for, write_map


def fall_back(
    hyps: Dict[str, str], whisper_hyps: Dict[str, str], no_speech: Dict[str, float], threshold: float
) -> Tuple[Dict[str, str], List[str]]:
    """``(utt -> hypothesis, replaced utts)``: Whisper's where ``hyps`` is empty and p(no speech) < threshold."""
    out, replaced = dict(hyps), []
    for u, hyp in hyps.items():
        if not hyp.strip() and no_speech[u] < threshold and whisper_hyps[u].strip():
            out[u] = whisper_hyps[u]
            replaced.append(u)
    return out, replaced


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hyp", type=Path, required=True, help="Kaldi text: <utt> <speech-LLM 1-best>")
    p.add_argument("--whisper", type=Path, required=True,
                   help="Whisper's decode dir of the same set: text and no_speech_prob (whisper_inference)")
    p.add_argument("--threshold", type=float, required=True,
                   help="Whisper's no-speech probability below which an empty hypothesis is replaced")
    p.add_argument("--out_dir", type=Path, required=True, help="text and fallback are written here")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    if not 0.0 <= args.threshold <= 1.0:
        sys.exit(f"whisper_fallback: --threshold {args.threshold}: not a probability")
    nsp_file = args.whisper / "no_speech_prob"
    try:
        hyps = read_map(args.hyp)
        whisper_hyps = read_map_for(args.whisper / "text", hyps)
        probs = no_speech_probs(list(hyps), read_map_for(nsp_file, hyps), nsp_file)
    except KaldiFormatError as e:
        sys.exit(f"whisper_fallback: {e} (the utterances of {args.hyp})")
    except KeyError as e:
        sys.exit(f"whisper_fallback: {e.args[0]}")
    except FileNotFoundError as e:  # e.g. a Whisper without a no-speech token wrote no no_speech_prob
        sys.exit(f"whisper_fallback: {e.filename}: no such file")
    out, replaced = fall_back(hyps, whisper_hyps, probs, args.threshold)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_map(args.out_dir / "text", out)
    write_map(args.out_dir / "fallback", {u: f"{probs[u]:.4f}" for u in replaced})
    empty = sum(not h.strip() for h in hyps.values())
    print(f"{args.out_dir / 'text'}: Whisper's 1-best for {len(replaced)} of the {empty} empty hypotheses "
          f"of {len(hyps)} (no-speech probability < {args.threshold})")


if __name__ == "__main__":
    main()
