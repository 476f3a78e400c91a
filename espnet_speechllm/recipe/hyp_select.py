"""Choose, per utterance, between the speech-LLM's and Whisper's hypothesis by both models.

Where the two differ, each hypothesis ``h`` gets ``log P_llm(h) + weight * log P_whisper(h)``
(the rows of ``bin/joint_hyp_score.py``) and the higher one is kept: a product of the two
experts, the way ``lm_rescore`` weighs an LM. ``weight`` is fitted on held-out sets with
references (never a test set): the grid value with the fewest word errors there; ties go to
the value nearest 1 (the two models counted alike). No library picks between two systems'
outputs by their joint likelihood, hence this file::

    python -m espnet_speechllm.recipe.hyp_select fit \\
        --set <dir>/dev/text exp/whisper_hint/decode_whisper/dev/text <dir>_select/dev/joint_scores dump/raw/dev/text \\
        --out <dir>_select/select.json
    python -m espnet_speechllm.recipe.hyp_select apply --select <dir>_select/select.json \\
        --hyp <dir>/test/text --whisper exp/whisper_hint/decode_whisper/test/text \\
        --scores <dir>_select/test/joint_scores --out_dir <dir>_select/test

``apply`` writes ``text`` and ``whisper_chosen`` (the utterances that took Whisper's words).
"""

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import editdistance

from espnet_speechllm.utils.kaldi_io import read_map, write_map

WEIGHTS = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
Scores = Dict[str, Tuple[float, float, float, float]]  # utt: llm(a), llm(b), whisper(a), whisper(b)


def whisper_form(text: str) -> str:
    """A reference-style text as Whisper writes one: ``"GO AWAY"`` -> ``" Go away."``."""
    t = " ".join(text.split()).lower()
    return f" {t[:1].upper()}{t[1:]}." if t else ""


def read_scores(path: Path) -> Scores:
    """Rows ``<utt> <llm(a)> <llm(b)> <whisper(a)> <whisper(b)>`` of ``joint_hyp_score``."""
    rows = {}
    for utt, value in read_map(path).items():
        parts = value.split()
        try:
            rows[utt] = tuple(float(v) for v in parts)
        except ValueError:
            parts = []
        if len(parts) != 4:
            raise ValueError(f"{path}: utt '{utt}': expected 4 scores, got {value!r}")
    return rows


def select(hyp: Dict[str, str], whisper: Dict[str, str], scores: Scores, weight: float) -> Dict[str, str]:
    """``hyp`` with Whisper's text where it scores higher: ``llm + weight * whisper``."""
    out = dict(hyp)
    for utt, (llm_a, llm_b, wh_a, wh_b) in scores.items():
        if utt not in hyp:
            raise ValueError(f"utt '{utt}' is scored but has no hypothesis")
        if llm_b + weight * wh_b > llm_a + weight * wh_a:
            out[utt] = whisper[utt]
    return out


def word_errors(refs: Dict[str, str], hyps: Dict[str, str]) -> int:
    """Summed word edit distance of ``hyps`` against ``refs`` (every hypothesis needs one)."""
    missing = sorted(set(hyps) - set(refs))
    if missing:
        raise ValueError(f"{len(missing)} hypotheses have no reference, e.g. '{missing[0]}'")
    return sum(editdistance.eval(refs[u].split(), h.split()) for u, h in hyps.items())


def fit_weight(
    sets: Sequence[Tuple[Dict[str, str], Dict[str, str], Scores, Dict[str, str]]],
    weights: Sequence[float] = WEIGHTS,
) -> Tuple[float, Dict[float, int]]:
    """The weight with the fewest word errors over ``(hyp, whisper, scores, refs)`` sets,
    and every weight's errors; ties: nearest 1 in log scale, then the smaller."""
    errors = {w: sum(word_errors(r, select(h, wh, s, w)) for h, wh, s, r in sets) for w in weights}
    fewest = min(errors.values())
    best = min((w for w in weights if errors[w] == fewest),
               key=lambda w: (abs(math.log2(w)) if w > 0 else math.inf, w))  # fmt: skip
    return best, errors


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit the weight on held-out sets")
    fit.add_argument("--set", nargs=4, action="append", required=True, type=Path,
                     metavar=("HYP", "WHISPER", "SCORES", "REF"), help="a held-out set's text files + scores")
    fit.add_argument("--out", type=Path, required=True, help="select.json")
    apply = sub.add_parser("apply", help="choose per utterance with a fitted weight")
    apply.add_argument("--select", type=Path, required=True, help="select.json of fit")
    for name in ("hyp", "whisper", "scores", "out_dir"):
        apply.add_argument(f"--{name}", type=Path, required=True)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    try:
        if args.command == "fit":
            sets = [(read_map(h), read_map(w), read_scores(s), read_map(r)) for h, w, s, r in args.set]
            weight, errors = fit_weight(sets)
            words = sum(len(t.split()) for *_, refs in sets for t in refs.values())
            info = {"weight": weight, "word_errors": {str(w): e for w, e in errors.items()},
                    "ref_words": words, "fit_sets": [str(s[0]) for s in args.set]}  # fmt: skip
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(info, indent=2) + "\n")
            as_is = sum(word_errors(r, h) for h, _, _, r in sets)
            print(f"hyp_select: weight {weight}: {errors[weight]} word errors of {words} "
                  f"(as decoded: {as_is}): {args.out}")  # fmt: skip
            return
        weight = json.loads(args.select.read_text())["weight"]
        hyp, whisper = read_map(args.hyp), read_map(args.whisper)
        out = select(hyp, whisper, read_scores(args.scores), weight)
        chosen: List[str] = [u for u in out if out[u] != hyp[u]]
        write_map(args.out_dir / "text", out)
        write_map(args.out_dir / "whisper_chosen", {u: out[u] for u in chosen})
        print(f"hyp_select: {len(chosen)} of {len(out)} utterances take Whisper's words: {args.out_dir}/text")
    except (ValueError, KeyError, OSError) as e:
        sys.exit(f"hyp_select {args.command}: {e}")


if __name__ == "__main__":
    main()
