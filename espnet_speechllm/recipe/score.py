"""Stage 13: score hypotheses against references (WER/CER with sclite, or BLEU).

::

    python -m espnet_speechllm.recipe.score --metric wer|cer|bleu --ref REF_TEXT \\
        --hyp HYP_TEXT --out_dir DIR [--cleaner none|upper|lower_nopunct] \\
        [--case_sensitive false|true] [--backend auto|sclite|jiwer]

REF_TEXT and HYP_TEXT are Kaldi ``text`` files (``utt words...``). wer/cer write
``DIR/ref.trn``, ``DIR/hyp.trn`` (sclite trn: ``tokens (spk-utt)``, cer tokens are
characters with ``<space>`` between words), ``DIR/result.txt`` (sclite's report:
``sclite -r ref.trn trn -h hyp.trn trn -i rm -o all stdout``) and ``DIR/score.json``
(``metric n_utt n_ref corr sub del ins err serr``, percentages of the N reference
words from the ``Sum/Avg`` line: ``ins`` is the insertion rate I / N; plus ``n_hyp``,
hypothesis words, and ``empty_rate``, the percentage of utterances decoded to an empty
hypothesis). wer/cer are case-insensitive by default, as in ESPnet's asr.sh (whose sclite
call has no ``-s``): both sides are lower-cased first (``Hello World`` = ``hello world``;
str.lower, so ``Élan`` = ``élan`` too, which sclite's own folding misses), and the trn
files hold what was scored; ``--case_sensitive true`` counts case. sclite gets ``-s -e
utf-8`` (case was settled before, identically for the jiwer fallback). sclite misreads ids
holding brackets (``a(b`` loses a word, ``a({b`` crashes it): such ids are renamed in
sclite's input and named back in result.txt; ref.trn and hyp.trn keep the real ids.
Without sclite, jiwer computes the same numbers and result.txt says so. BLEU is always
case-sensitive. bleu writes sacrebleu's corpus BLEU and chrF to
result.txt and score.json. A reference utterance missing from the hypotheses counts as
an empty hypothesis (all deletions), with a warning.

A reference ``<nospeech>`` (non-speech utterances, espnet_speechllm.utils.nonspeech) is an
empty reference. Where every reference is empty (a non-speech test set) the rates over N
are undefined: they are written as null, ``n_hyp`` counts the inserted words, ``serr``
is the percentage of utterances with a non-empty hypothesis, and sclite is not run.
"""

import argparse
import importlib.metadata
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map
from espnet_speechllm.utils.nonspeech import is_nonspeech

CLEANERS = ("none", "upper", "lower_nopunct")
SCLITE_DIRS = ("/usr/lib/sctk/bin",)
_KEYS = ("corr", "sub", "del", "ins", "err", "serr")
_SCLITE_UNSAFE = re.compile(r"[(){}\[\]]")
_STAND_IN_RE = re.compile(r"_sclite\d+_")
_SUM_RE = re.compile(
    r"\|\s*Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|" + r"\s*([\d.]+)" * 6 + r"\s*\|"
)


def clean(text: str, cleaner: str) -> str:
    """Normalise a transcript; whitespace is always collapsed.

    ``lower_nopunct`` lower-cases, deletes apostrophes (``don't`` -> ``dont``) and turns
    other punctuation into spaces (``well-known`` -> ``well known``).
    """
    if cleaner == "upper":
        text = text.upper()
    elif cleaner == "lower_nopunct":
        text = "".join(
            "" if c == "'" else " " if unicodedata.category(c).startswith("P") else c
            for c in text.lower()
        )
    elif cleaner != "none":
        raise ValueError(f"unknown cleaner '{cleaner}', expected one of {CLEANERS}")
    return " ".join(text.split())


def tokens(text: str, metric: str) -> List[str]:
    """Scoring units: words for wer, characters (``<space>`` between words) for cer."""
    if metric == "wer":
        return text.split()
    out: List[str] = []
    for word in text.split():
        out += (["<space>"] if out else []) + list(word)
    return out


def load_pairs(
    ref_path: Path, hyp_path: Path
) -> Tuple[List[str], List[str], List[str]]:
    """(utt ids, refs, hyps) in ref order; missing hyps become empty strings."""
    ref, hyp = read_map(ref_path), read_map(hyp_path)
    missing = [utt for utt in ref if utt not in hyp]
    if missing:
        logging.warning(
            f"score: {len(missing)} utt(s) of {ref_path} missing in {hyp_path} "
            f"(scored as empty hypotheses), e.g. '{missing[0]}'"
        )
    extra = [utt for utt in hyp if utt not in ref]
    if extra:
        logging.warning(
            f"score: {len(extra)} utt(s) of {hyp_path} not in {ref_path} (ignored), "
            f"e.g. '{extra[0]}'"
        )
    if not ref:
        raise ValueError(f"{ref_path}: no utterances to score")
    utts = sorted(ref)
    return utts, [ref[u] for u in utts], [hyp.get(u, "") for u in utts]


def trn_id(utt: str) -> str:
    """The ``spk-utt`` id of a trn line: spk is the utt's first ``-`` field, as ``-i rm``
    needs a speaker part."""
    return f"{utt.split('-', 1)[0]}-{utt}"


def write_trn(path: Path, ids: List[str], token_lists: List[List[str]]) -> None:
    """sclite trn lines ``tokens\t(id)``."""
    with open(path, "w", encoding="utf-8") as f:
        for id_, toks in zip(ids, token_lists):
            f.write(f"{' '.join(toks)}\t({id_})\n")


def sclite_safe_ids(utts: List[str]) -> Tuple[List[str], Dict[str, str]]:
    """trn ids that sclite reads back intact, and each stand-in -> the name it replaces.

    sclite finds an id by its brackets: ``(a(b-a(b)`` loses a word of the transcript
    and ``({`` makes it crash (code -11). A speaker or utt name holding brackets is
    replaced by ``_scliteN_``; names without them are kept, so the report's speaker
    groups stay.
    """
    back: Dict[str, str] = {}
    stand_in: Dict[str, str] = {}

    def safe(name: str) -> str:
        if not _SCLITE_UNSAFE.search(name):
            return name
        if name not in stand_in:
            stand_in[name] = f"_sclite{len(stand_in)}_"
            back[stand_in[name]] = name
        return stand_in[name]

    return [f"{safe(utt.split('-', 1)[0])}-{safe(utt)}" for utt in utts], back


def find_sclite() -> Optional[str]:
    for d in SCLITE_DIRS:
        if Path(d, "sclite").is_file():
            return str(Path(d, "sclite"))
    return shutil.which("sclite")


def parse_sum_avg(report: str) -> Dict[str, float]:
    """Numbers of the ``| Sum/Avg| Snt Wrd | Corr Sub Del Ins Err S.Err |`` line."""
    m = _SUM_RE.search(report)
    if m is None:
        raise ValueError("no 'Sum/Avg' line in the sclite report")
    values = [float(v) for v in m.groups()]
    return {
        "n_utt": int(values[0]),
        "n_ref": int(values[1]),
        **dict(zip(_KEYS, values[2:])),
    }


def sum_avg_line(n_utt: int, n_ref: int, percents: Sequence[float]) -> str:
    """A ``Sum/Avg`` line in sclite's layout (parse_sum_avg reads it back)."""
    return (
        f"| Sum/Avg|{n_utt:5d} {n_ref:6d} |"
        + "".join(f"{p:6.1f} " for p in percents)
        + "|"
    )


def run_sclite(
    sclite: str,
    out_dir: Path,
    utts: List[str],
    ref_toks: List[List[str]],
    hyp_toks: List[List[str]],
) -> str:
    """sclite's report (also written to out_dir/result.txt), with the real ids."""
    ids, back = sclite_safe_ids(utts)
    cmd = [sclite, "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm", "-s"]
    cmd += ["-e", "utf-8", "-o", "all", "stdout"]
    with tempfile.TemporaryDirectory() as tmp:
        if back:  # sclite reads renamed copies of ref.trn and hyp.trn
            example = next(iter(back.values()))
            logging.info(f"score: {len(back)} name(s) renamed for sclite, e.g. '{example}'")
            write_trn(Path(tmp) / "ref.trn", ids, ref_toks)
            write_trn(Path(tmp) / "hyp.trn", ids, hyp_toks)
        proc = subprocess.run(
            cmd, cwd=tmp if back else out_dir, capture_output=True, text=True
        )
    report = _STAND_IN_RE.sub(lambda m: back.get(m.group(), m.group()), proc.stdout)
    (out_dir / "result.txt").write_text(report, encoding="utf-8")
    if proc.returncode != 0 or not _SUM_RE.search(report):
        tail = (proc.stderr or report).strip().splitlines()[-5:]
        raise RuntimeError(
            f"sclite failed (code {proc.returncode}): " + " / ".join(tail)
        )
    return report


def jiwer_report(refs: List[List[str]], hyps: List[List[str]]) -> str:
    """A result.txt holding a sclite-style Sum/Avg line computed with jiwer."""
    import jiwer  # only needed where sclite is missing

    out = jiwer.process_words([" ".join(r) for r in refs], [" ".join(h) for h in hyps])
    n_ref = sum(len(r) for r in refs)
    n_err_snt = sum(any(c.type != "equal" for c in a) for a in out.alignments)

    def pct(n: int, d: int) -> float:
        return 100.0 * n / d if d else 0.0

    n_err = out.substitutions + out.deletions + out.insertions
    counts = (out.hits, out.substitutions, out.deletions, out.insertions, n_err)
    percents = [pct(c, n_ref) for c in counts] + [pct(n_err_snt, len(refs))]
    return (
        f"# sclite not used (not found, or --backend jiwer): scored with jiwer "
        f"{importlib.metadata.version('jiwer')}, same Sum/Avg layout as sclite\n"
        "| SPKR   | # Snt # Wrd | Corr    Sub    Del    Ins    Err  S.Err |\n"
        f"{sum_avg_line(len(refs), n_ref, percents)}\n"
        f"# counts: corr={out.hits} sub={out.substitutions} del={out.deletions} "
        f"ins={out.insertions} err_snt={n_err_snt}\n"
    )


def empty_hypothesis_counts(hyp_toks: List[List[str]]) -> Dict:
    """``n_hyp`` (hypothesis tokens) and ``empty_rate`` (% of empty hypotheses)."""
    n_empty = sum(not h for h in hyp_toks)
    return {
        "n_hyp": sum(len(h) for h in hyp_toks),
        "empty_rate": round(100.0 * n_empty / len(hyp_toks), 1),
    }


def score_empty_references(hyp_toks: List[List[str]], out_dir: Path) -> Dict:
    """Every reference empty: rates over N = 0 are undefined (None); all hyp words are
    insertions."""
    counts = empty_hypothesis_counts(hyp_toks)
    serr = round(100.0 - counts["empty_rate"], 1)
    (out_dir / "result.txt").write_text(
        f"# every reference is empty (non-speech set): WER undefined, sclite not run\n"
        f"# utterances={len(hyp_toks)} inserted_words={counts['n_hyp']} "
        f"empty_hypotheses={counts['empty_rate']}% non_empty={serr}%\n",
        encoding="utf-8",
    )
    undefined = dict.fromkeys(("corr", "sub", "del", "ins", "err"))
    return {"n_utt": len(hyp_toks), "n_ref": 0, **undefined, "serr": serr, **counts}


def warn_if_mostly_empty(
    ref_toks: List[List[str]], hyp_toks: List[List[str]], out_dir: Path
) -> None:
    """Warn when most of the utterances with speech decode to "": a model whose
    training collapsed to end-of-sentence scores a plain 100% WER, easy to miss in a table."""
    speech = [h for r, h in zip(ref_toks, hyp_toks) if r]
    n_empty = sum(not h for h in speech)
    if 2 * n_empty > len(speech):
        logging.warning(
            f"score: {n_empty} of the {len(speech)} utterances with a reference in {out_dir} "
            "have an empty hypothesis: the model may have collapsed to end-of-sentence "
            "(check the valid accuracy in its train.log)"
        )


def score_error_rate(
    utts: List[str],
    refs: List[str],
    hyps: List[str],
    metric: str,
    out_dir: Path,
    backend: str,
) -> Dict:
    ref_toks = [tokens(t, metric) for t in refs]
    hyp_toks = [tokens(t, metric) for t in hyps]
    ids = [trn_id(utt) for utt in utts]
    write_trn(out_dir / "ref.trn", ids, ref_toks)
    write_trn(out_dir / "hyp.trn", ids, hyp_toks)
    if not any(ref_toks):
        return {"metric": metric, **score_empty_references(hyp_toks, out_dir)}
    warn_if_mostly_empty(ref_toks, hyp_toks, out_dir)
    sclite = find_sclite() if backend != "jiwer" else None
    if backend == "sclite" and sclite is None:
        raise RuntimeError(f"sclite not found in {SCLITE_DIRS} or on PATH")
    if sclite:
        report = run_sclite(sclite, out_dir, utts, ref_toks, hyp_toks)
    else:
        report = jiwer_report(ref_toks, hyp_toks)
        (out_dir / "result.txt").write_text(report, encoding="utf-8")
    return {"metric": metric, **parse_sum_avg(report), **empty_hypothesis_counts(hyp_toks)}


def score_bleu(refs: List[str], hyps: List[str], out_dir: Path) -> Dict:
    import sacrebleu  # only needed for bleu

    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    b = bleu.corpus_score(hyps, [refs])
    c = chrf.corpus_score(hyps, [refs])
    (out_dir / "result.txt").write_text(
        f"{b}\n{bleu.get_signature()}\n{c}\n{chrf.get_signature()}\n", encoding="utf-8"
    )
    return {
        "metric": "bleu",
        "n_utt": len(refs),
        "bleu": round(b.score, 2),
        "chrf": round(c.score, 2),
        "bp": round(b.bp, 3),
        "signature": str(bleu.get_signature()),
    }


def score(
    metric: str,
    ref: Path,
    hyp: Path,
    out_dir: Path,
    cleaner: str = "none",
    backend: str = "auto",
    case_sensitive: bool = False,
) -> Dict:
    """Score and write out_dir/score.json; returns its content."""
    utts, refs, hyps = load_pairs(ref, hyp)
    refs = ["" if is_nonspeech(t) else t for t in refs]
    refs = [clean(t, cleaner) for t in refs]
    hyps = [clean(t, cleaner) for t in hyps]
    if metric != "bleu" and not case_sensitive:
        refs, hyps = [t.lower() for t in refs], [t.lower() for t in hyps]
    out_dir.mkdir(parents=True, exist_ok=True)
    if metric == "bleu":
        result = score_bleu(refs, hyps, out_dir)
    else:
        result = score_error_rate(utts, refs, hyps, metric, out_dir, backend)
    (out_dir / "score.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--metric", choices=("wer", "cer", "bleu"), required=True)
    parser.add_argument("--ref", type=Path, required=True, help="reference Kaldi text")
    parser.add_argument("--hyp", type=Path, required=True, help="hypothesis Kaldi text")
    parser.add_argument("--out_dir", type=Path, required=True)
    parser.add_argument("--cleaner", choices=CLEANERS, default="none")
    parser.add_argument(
        "--case_sensitive",
        type=lambda v: {"true": True, "false": False}[v.lower()],
        default=False,
        help="wer/cer: count case differences (default false, as asr.sh's sclite)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "sclite", "jiwer"),
        default="auto",
        help="auto: sclite when installed, else jiwer",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        result = score(
            args.metric, args.ref, args.hyp, args.out_dir, args.cleaner, args.backend,
            args.case_sensitive,
        )
    except (ValueError, RuntimeError) as e:
        sys.exit(f"score: {e}")
    value = result["bleu"] if args.metric == "bleu" else result["err"]
    if value is None:  # all references empty
        value = f"undefined, empty hypotheses {result['empty_rate']}%"
    print(
        f"score: {args.metric} {value} ({result['n_utt']} utts) "
        f"-> {args.out_dir / 'score.json'}"
    )


if __name__ == "__main__":
    main()
