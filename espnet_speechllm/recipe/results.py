"""Write an ESPnet-style RESULTS.md section from the score.json files of experiments.

::

    python -m espnet_speechllm.recipe.results --exp exp/DIR [--exp exp/DIR2 ...] \\
        --out RESULTS.md

For each experiment: its config (``exp/DIR/config.yaml``), its parameter counts (the
last "Model summary" that ESPnet's model_summary() printed in ``exp/DIR/train.log``) and
one table per metric from ``exp/DIR/decode_*/<test_set>/score_*/score.json``::

    |dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|HypWrd|Empty|      (wer, cer)
    |dataset|Snt|BLEU|chrF|BP|                        (bleu)

The dataset cell is ``<decode dir>/<test set>``. Corr..S.Err are sclite's percentages
of the N reference words (Ins is the insertion rate I / N); HypWrd counts hypothesis
words and Empty is the percentage of utterances decoded to an empty hypothesis (the
figure of a non-speech set, whose N is 0 and rates "-"). The environment block comes
first.
"""

import argparse
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.utils.cli import parse_args

_ER_KEYS = ("corr", "sub", "del", "ins", "err", "serr")
_PACKAGES = ("torch", "espnet", "transformers", "peft", "espnet_speechllm")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        if package == "espnet_speechllm":  # a source checkout, not pip-installed
            from espnet_speechllm import __version__

            return f"{__version__} (source)"
        return "not installed"


def _run(cmd: List[str]) -> str:
    """stdout of cmd, or "" when it cannot run or fails."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> List[str]:
    """Markdown bullet lines describing this machine and software."""
    now = datetime.datetime.now().astimezone()
    lines = [
        f"- date: `{now.strftime('%Y-%m-%d %H:%M:%S %Z')}`",
        f"- os: `{platform.platform()}`",
        f"- python version: `{sys.version.split()[0]}`",
    ]
    lines += [f"- {p} version: `{_version(p)}`" for p in _PACKAGES]
    lines.append(f"- CPU: `{_cpu_model()}` ({os.cpu_count()} cores)")
    if shutil.which("nvidia-smi"):
        gpus = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
        if gpus:
            lines.append(f"- GPU: `{', '.join(gpus.splitlines())}`")
    rev = _run(["git", "rev-parse", "HEAD"])
    if rev:
        dirty = (
            " (with uncommitted changes)"
            if _run(["git", "status", "--porcelain"])
            else ""
        )
        date = _run(["git", "log", "-1", "--format=%cd"])
        lines.append(f"- git revision: `{rev}`{dirty}")
        lines.append(f"  - commit date: `{date}`")
    else:
        lines.append("- git revision: `none` (not a git checkout, or no commit yet)")
    return lines


def model_params(train_log: Path) -> Optional[Dict[str, str]]:
    """Class name and parameter counts of the last model summary in train.log."""
    if not train_log.is_file():
        return None
    text = train_log.read_text(encoding="utf-8", errors="replace")
    found = {}
    patterns = {
        "class": r"Class Name: (\S+)",
        "total": r"Total Number of model parameters: (.+)",
        "trainable": r"Number of trainable parameters: (.+)",
    }
    for key, pattern in patterns.items():
        matches = re.findall(pattern, text)
        if matches:
            found[key] = matches[-1].strip()
    return found or None


def load_scores(exp: Path) -> Dict[str, List[Dict]]:
    """score.json contents grouped by metric, each with its ``dataset`` cell."""
    by_metric: Dict[str, List[Dict]] = {}
    for path in sorted(exp.glob("decode_*/*/score_*/score.json")):
        score = json.loads(path.read_text())
        score["dataset"] = f"{path.parent.parent.parent.name}/{path.parent.parent.name}"
        by_metric.setdefault(score["metric"], []).append(score)
    return by_metric


def score_table(metric: str, scores: List[Dict]) -> List[str]:
    if metric == "response":  # chat responses vs the oracle ones (recipe.score_responses)
        from espnet_speechllm.recipe.score_responses import response_table

        return response_table(scores)
    if metric == "bleu":
        lines = ["|dataset|Snt|BLEU|chrF|BP|", "|---|---|---|---|---|"]
        for s in scores:
            lines.append(
                f"|{s['dataset']}|{s['n_utt']}|"
                f"{s['bleu']:.2f}|{s['chrf']:.2f}|{s['bp']:.3f}|"
            )
        return lines
    lines = [
        "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|HypWrd|Empty|",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        cells = "|".join(_fmt(s.get(k), ".1f") for k in _ER_KEYS)
        extra = f"{s.get('n_hyp', '-')}|{_fmt(s.get('empty_rate'), '.1f')}"
        lines.append(f"|{s['dataset']}|{s['n_utt']}|{s['n_ref']}|{cells}|{extra}|")
    return lines


def exp_section(exp: Path, out_dir: Path) -> List[str]:
    lines = [f"## {exp}"]
    config = exp / "config.yaml"
    if config.is_file():
        rel = os.path.relpath(config, out_dir)
        lines.append(f"- config: [{rel}]({rel})")
    else:
        lines.append(f"- config: `{config}` (missing)")
    params = model_params(exp / "train.log")
    if params:
        lines.append(
            f"- params: total {params.get('total', '?')}, trainable "
            f"{params.get('trainable', '?')} (model class `{params.get('class', '?')}`)"
        )
    else:
        lines.append(f"- params: unknown (no model summary in {exp / 'train.log'})")
    by_metric = load_scores(exp)
    if not by_metric:
        logging.warning(f"results: no score.json under {exp}/decode_*/*/score_*/")
        lines.append(f"- no scores under `{exp}/decode_*/*/score_*/score.json`")
    for metric in sorted(by_metric):
        lines += ["", f"### {metric.upper()}", ""] + score_table(
            metric, by_metric[metric]
        )
    return lines


def last_valid(train_log: Path, key: str) -> Optional[float]:
    """The valid-set value of ``key`` (e.g. ``acc``, ``prefix_ratio``) at the last epoch of train.log."""
    if not train_log.is_file():
        return None
    text = train_log.read_text(encoding="utf-8", errors="replace")
    found = re.findall(rf"epoch results: .*\[valid\].*?[ ,]{key}=([0-9.eE+-]+)", text)
    return float(found[-1]) if found else None


def _seconds(path: Path) -> Optional[float]:
    try:
        return float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _ablation_scores(metric: str, s: Dict) -> List:
    """The ablation table's score cells of one score.json (``{}``: none)."""
    if metric == "bleu":
        return [_fmt(s.get(k), ".2f") for k in ("bleu", "chrf")] + [_fmt(s.get("bp"), ".3f")]
    keys = ("err", "sub", "del", "ins", "empty_rate")
    return [s.get("n_ref", "-")] + [_fmt(s.get(k), ".1f") for k in keys]


def ablation_table(rows: Sequence[Tuple[str, Path]]) -> List[str]:
    """One table comparing systems; a row is (label, decode dir ``exp/X/decode_*``).

    Scores are WER (``score_wer``), or BLEU (``score_bleu``: speech translation) where
    no row has a WER.

    The exp dir (the decode dir's parent) gives params (train.log), training time
    (``train_time``, seconds, written by the ablation runner), decoding time
    (``decode_time``; ``+ N``: ``<decode dir>/<test set>/rescore_time`` of lm_rescore),
    the teacher-forced valid accuracy and the mean prefix ratio (input frames per LLM
    prefix position, valid set), both of the last epoch.
    """
    has_wer = any(any(ddir.glob("*/score_wer/score.json")) for _, ddir in rows)
    has_bleu = any(any(ddir.glob("*/score_bleu/score.json")) for _, ddir in rows)
    metric = "bleu" if has_bleu and not has_wer else "wer"
    header = "BLEU|chrF|BP" if metric == "bleu" else "Wrd|WER|Sub|Del|Ins|Empty"
    lines = [
        f"|system|exp / decode dir / test set|Snt|{header}|params (trainable)|"
        "train s|decode s|valid acc|prefix ratio|",
        "|---" * (9 + header.count("|")) + "|",
    ]
    for label, ddir in rows:
        exp = ddir.parent
        params = model_params(exp / "train.log") or {}
        ratio = last_valid(exp / "train.log", "prefix_ratio")
        acc = last_valid(exp / "train.log", "acc")
        scores = sorted(ddir.glob(f"*/score_{metric}/score.json"))
        if not scores:
            logging.warning(f"results: no {ddir}/*/score_{metric}/score.json")
        for path in scores or [None]:
            s = json.loads(path.read_text()) if path else {}
            cells = [s.get("n_utt", "-"), *_ablation_scores(metric, s)]
            dset = path.parent.parent.name if path else "-"
            decode = _fmt(_seconds(exp / "decode_time"), ".0f")
            rescore = _seconds(path.parent.parent / "rescore_time") if path else None
            if rescore is not None:
                decode += f" + {rescore:.0f}"
            lines.append(
                f"|{label}|{exp.name}/{ddir.name}/{dset}|" + "|".join(map(str, cells))
                + f"|{params.get('total', '?')} ({params.get('trainable', '?')})|"
                f"{_fmt(_seconds(exp / 'train_time'), '.0f')}|{decode}|{_fmt(acc, '.3f')}|"
                f"{_fmt(ratio, '.2f')}|"
            )
    return lines


def results_md(exps: Sequence[Path], out_dir: Path) -> str:
    lines = ["# RESULTS", "## Environments"] + environment()
    for exp in exps:
        lines += [""] + exp_section(exp, out_dir)
    return "\n".join(lines) + "\n"


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exp", type=Path, action="append", help="exp dir (repeatable)")
    parser.add_argument(
        "--row",
        action="append",
        default=[],
        help="LABEL=exp/X/decode_dir: one row of a single comparison table (repeatable)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="markdown file to (over)write"
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    if args.row:
        rows = [(label, Path(d)) for label, _, d in (r.partition("=") for r in args.row)]
        missing = [str(d) for _, d in rows if not d.is_dir()]
        if missing:
            sys.exit(f"results: not a directory: {' '.join(missing)}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        text = ["# RESULTS", "## Environments"] + environment() + [""] + ablation_table(rows)
        args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
        print(f"results: wrote {args.out}")
        return
    if not args.exp:
        sys.exit("results: give --exp (per-experiment sections) or --row (one table)")
    missing = [str(e) for e in args.exp if not e.is_dir()]
    if missing:
        sys.exit(f"results: not a directory: {' '.join(missing)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(results_md(args.exp, args.out.parent), encoding="utf-8")
    print(f"results: wrote {args.out}")


if __name__ == "__main__":
    main()
