"""Score chat responses against the oracle responses (the LLM given the reference transcript).

::

    python -m espnet_speechllm.recipe.score_responses --hyp DECODE/test_qa/text \\
        --ref dump/raw/test_qa/response --out_dir DECODE/test_qa/score_response \\
        [--answer dump/raw/test_qa/answer] [--instruction dump/raw/test_inst/instruction \\
         --transcript dump/raw/test_inst/text]
    python -m espnet_speechllm.recipe.score_responses table --row LABEL=DECODE_DIR ... --out T.md

Per group of utterances (all of them, and with ``--instruction`` each distinct
instruction as its own group) it computes sacrebleu's corpus BLEU (``effective_order``:
short answers have no 4-grams) and chrF of the
hypotheses against the oracle responses, ``exact``: the % of hypotheses equal to their
oracle response after ``score.clean(..., "lower_nopunct")``, with ``--answer`` (``<utt>
ans1|ans2``) ``answer``: the % of hypotheses containing an accepted short answer as whole
words (same normalisation), and for the groups whose instruction starts with "Repeat"
``wer``: the hypotheses' WER against the reference ``--transcript`` (jiwer, same
normalisation). ``OUT_DIR/score.json`` (metric ``response``) is read by
``recipe.results`` into the RESULTS.md table; ``table`` writes one table across systems
(end-to-end, cascade, oracle) from their decode dirs' ``*/score_response/score.json``.
"""

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.recipe.generate_responses import read_entries
from espnet_speechllm.recipe.score import clean, load_pairs
from espnet_speechllm.utils.cli import parse_args

ALL = "all"
_NORM = "lower_nopunct"


def exact_match(hyps: List[str], refs: List[str]) -> float:
    """% of normalised hypotheses equal to their normalised reference."""
    same = sum(clean(h, _NORM) == clean(r, _NORM) for h, r in zip(hyps, refs))
    return 100.0 * same / len(refs)


def answer_rate(hyps: List[str], answers: List[str]) -> float:
    """% of hypotheses that contain one of ``ans1|ans2|...`` as whole words (normalised)."""
    hits = 0
    for hyp, accepted in zip(hyps, answers):
        padded = f" {clean(hyp, _NORM)} "
        hits += any(f" {clean(a, _NORM)} " in padded for a in accepted.split("|") if a.strip())
    return 100.0 * hits / len(hyps)


def word_error_rate(hyps: List[str], refs: List[str]) -> float:
    """Corpus WER (%) of normalised hypotheses against normalised references."""
    import jiwer

    return 100.0 * jiwer.wer([clean(r, _NORM) for r in refs], [clean(h, _NORM) for h in hyps])


def bleu_chrf(hyps: List[str], refs: List[str]) -> Tuple[float, float]:
    import sacrebleu

    # effective_order: a corpus of short answers ("Paris.") has no 4-grams, and plain BLEU
    # would score even identical responses 0.
    bleu = sacrebleu.metrics.BLEU(effective_order=True).corpus_score(hyps, [refs]).score
    chrf = sacrebleu.metrics.CHRF().corpus_score(hyps, [refs]).score
    return round(bleu, 2), round(chrf, 2)


def score_group(
    hyps: List[str],
    refs: List[str],
    answers: Optional[List[str]] = None,
    transcripts: Optional[List[str]] = None,
) -> Dict:
    """The figures of one group of utterances (lists in the same utterance order)."""
    bleu, chrf = bleu_chrf(hyps, refs)
    out = {"n_utt": len(refs), "bleu": bleu, "chrf": chrf, "exact": round(exact_match(hyps, refs), 2)}
    if answers is not None:
        out["answer"] = round(answer_rate(hyps, answers), 2)
    if transcripts is not None:
        out["wer"] = round(word_error_rate(hyps, transcripts), 2)
    return out


def _values(path: Optional[Path], utts: List[str]) -> Optional[List[str]]:
    if path is None:
        return None
    values = read_entries(path, utts)
    return [values[u] for u in utts]


def score_responses(
    hyp: Path,
    ref: Path,
    out_dir: Path,
    answer: Optional[Path] = None,
    instruction: Optional[Path] = None,
    transcript: Optional[Path] = None,
) -> Dict:
    """Score and write ``out_dir/score.json``; returns its content."""
    utts, refs, hyps = load_pairs(ref, hyp)
    answers = _values(answer, utts)
    transcripts = _values(transcript, utts)
    groups: Dict[str, List[int]] = {ALL: list(range(len(utts)))}
    for i, inst in enumerate(_values(instruction, utts) or []):
        groups.setdefault(inst, []).append(i)
    result = {"metric": "response", "groups": {}}
    for name, idx in groups.items():
        pick = lambda xs: None if xs is None else [xs[i] for i in idx]  # noqa: E731
        is_repeat = name != ALL and name.lower().startswith("repeat")
        result["groups"][name] = score_group(
            pick(hyps), pick(refs), pick(answers), pick(transcripts) if is_repeat else None
        )
    result["n_utt"] = len(utts)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "score.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def response_table(scores: Sequence[Dict]) -> List[str]:
    """Markdown rows of score.json contents, each with its ``dataset`` cell."""
    lines = ["|dataset|group|Snt|BLEU|chrF|exact %|answer %|WER|", "|---" * 8 + "|"]
    for s in scores:
        for name, g in s["groups"].items():
            cells = [f"{g[k]:.2f}" if k in g else "-" for k in ("bleu", "chrf", "exact", "answer", "wer")]
            lines.append(f"|{s['dataset']}|{name}|{g['n_utt']}|" + "|".join(cells) + "|")
    return lines


def systems_table(rows: Sequence[Tuple[str, Path]]) -> List[str]:
    """One table across systems; a row is (label, decode dir holding ``<set>/score_response``)."""
    scores = []
    for label, ddir in rows:
        paths = sorted(ddir.glob("*/score_response/score.json"))
        if not paths:
            logging.warning(f"score_responses: no {ddir}/*/score_response/score.json")
        for path in paths:
            s = json.loads(path.read_text())
            s["dataset"] = f"{label}: {path.parent.parent.name}"
            scores.append(s)
    return response_table(scores)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hyp", type=Path, help="Kaldi file of hypothesis responses")
    parser.add_argument("--ref", type=Path, help="Kaldi file of oracle responses")
    parser.add_argument("--out_dir", type=Path)
    parser.add_argument("--answer", type=Path, default=None, help="<utt> ans1|ans2")
    parser.add_argument("--instruction", type=Path, default=None, help="<utt> <instruction>")
    parser.add_argument("--transcript", type=Path, default=None, help="reference text (WER of Repeat)")
    parser.add_argument("--row", action="append", default=[], help="table: LABEL=DECODE_DIR")
    parser.add_argument("--out", type=Path, help="table: markdown file to write")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    table = bool(argv) and argv[0] == "table"
    args = parse_args(get_parser(), argv[1:] if table else argv)
    if table:
        if not args.row or args.out is None:
            sys.exit("score_responses table: give --row LABEL=DIR (repeatable) and --out")
        rows = [(label, Path(d)) for label, _, d in (r.partition("=") for r in args.row)]
        args.out.write_text("\n".join(systems_table(rows)) + "\n", encoding="utf-8")
        print(f"score_responses: wrote {args.out}")
        return
    if args.hyp is None or args.ref is None or args.out_dir is None:
        sys.exit("score_responses: --hyp, --ref and --out_dir are required")
    if args.instruction is not None and args.transcript is None:
        logging.info("score_responses: no --transcript: no WER for Repeat instructions")
    try:
        result = score_responses(
            args.hyp, args.ref, args.out_dir, args.answer, args.instruction, args.transcript
        )
    except ValueError as e:
        sys.exit(f"score_responses: {e}")
    g = result["groups"][ALL]
    print(
        f"score_responses: BLEU {g['bleu']} chrF {g['chrf']} exact {g['exact']}% "
        f"({result['n_utt']} utts) -> {args.out_dir / 'score.json'}"
    )


if __name__ == "__main__":
    main()
