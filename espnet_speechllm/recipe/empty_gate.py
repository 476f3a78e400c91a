#!/usr/bin/env python3
"""Decide "speech or not?" from two detectors at once: the speech-LLM's p("") and Whisper's.

::

    python -m espnet_speechllm.recipe.empty_gate fit --rate 0.98 --out exp/<model>/<tag>/empty_gate.json \\
        --nonspeech <p_empty of dev_nonspeech> exp/whisper_hint/decode_whisper/dev_nonspeech \\
        --speech <p_empty of dev_short> exp/whisper_hint/decode_whisper/dev_short \\
        --speech <p_empty of dev> exp/whisper_hint/decode_whisper/dev
    python -m espnet_speechllm.recipe.empty_gate apply --gate exp/<model>/<tag>/empty_gate.json \\
        --hyp exp/<model>/<tag>/test/text --p_empty <p_empty of test> \\
        --whisper exp/whisper_hint/decode_whisper/test --out_dir exp/<model>/<tag>_emptygate/test

Each detector alone is unreliable off the training domain (espeak_en RESULTS.md): the LLM's
first-step p(eos) (``speechllm_empty_threshold.py`` writes it as ``p_empty``) is as low on
babble as on short real speech, and Whisper's no-speech probability is as high on some short
synthetic words as on a chord. Where one of them errs the other mostly does not, so a
logistic regression over both (their logits) is fitted on held-out sets only: a non-speech
set (label "") and speech sets (label "speech"), classes weighted equally. Its threshold is
then set, like ``--empty_threshold``, to keep ``--rate`` of the non-speech set "".
``apply`` writes ``<out_dir>/text``: "" where the gate says non-speech, else the hypothesis:
of a decode with ``--empty_threshold 1.0`` (never "" by itself), or, with ``--whisper_fallback
true``, of the plain decode with Whisper's 1-best where it is "" but the gate says speech; and
``<out_dir>/emptied`` (``<utt> <gate score>``). scikit-learn's ``LogisticRegression`` does the
fit (in setup.py; librosa needs it too).
"""

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_speechllm.recipe.whisper_hint import no_speech_probs
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import KaldiFormatError, read_map, read_map_for, write_map

FEATURES = ("logit(LLM p_empty)", "logit(Whisper no_speech_prob)")


def _logit(p: float, eps: float = 1e-6) -> float:
    p = min(max(p, eps), 1.0 - eps)
    return math.log(p / (1.0 - p))


def features(utts: Sequence[str], p_empty: Dict[str, float], no_speech: Dict[str, float]) -> np.ndarray:
    """``(N, 2)``: the logits of the two detectors' no-speech probabilities, in ``utts`` order."""
    return np.array([[_logit(p_empty[u]), _logit(no_speech[u])] for u in utts], dtype=np.float64).reshape(-1, 2)


@dataclass
class EmptyGate:
    """``score(x) = coef . x + intercept``; "" where ``score >= threshold``."""

    coef: List[float]
    intercept: float
    threshold: float
    rate: float

    def score(self, x: np.ndarray) -> np.ndarray:
        """``(N, 2) -> (N,)``."""
        return x @ np.asarray(self.coef) + self.intercept

    def is_empty(self, x: np.ndarray) -> np.ndarray:
        """``(N, 2) -> (N,)`` bool."""
        return self.score(x) >= self.threshold


def fit_gate(nonspeech: np.ndarray, speech: np.ndarray, rate: float = 0.98) -> EmptyGate:
    """Fit on ``(N, 2)`` non-speech and ``(M, 2)`` speech features; keep ``rate`` of the non-speech ""."""
    from sklearn.linear_model import LogisticRegression

    if not 0.0 < rate <= 1.0:
        raise ValueError(f"--rate {rate} must be in (0, 1]")
    if len(nonspeech) == 0 or len(speech) == 0:
        raise ValueError(f"the gate needs both kinds: {len(nonspeech)} non-speech and {len(speech)} speech utterances")
    x = np.vstack([nonspeech, speech])
    y = np.r_[np.ones(len(nonspeech)), np.zeros(len(speech))]
    clf = LogisticRegression(class_weight="balanced").fit(x, y)
    gate = EmptyGate(clf.coef_[0].tolist(), float(clf.intercept_[0]), 0.0, rate)
    ranked = np.sort(gate.score(nonspeech))[::-1]
    t = float(ranked[math.ceil(rate * len(ranked) - 1e-9) - 1])
    gate.threshold = t - 1e-6 * max(1.0, abs(t))  # just below: float noise must not lose that clip
    return gate


def gate_hyps(
    hyps: Dict[str, str], x: np.ndarray, gate: EmptyGate, fallback: Optional[Dict[str, str]] = None
) -> Tuple[Dict[str, str], Dict[str, float], List[str]]:
    """``(utt -> hypothesis, emptied utt -> score, utts that took the fallback)``; ``x`` in ``hyps``
    order. Where the gate says speech but the hypothesis is "", ``fallback``'s text is taken."""
    scores = gate.score(x)
    out, emptied, replaced = dict(hyps), {}, []
    for u, s in zip(hyps, scores):
        if s >= gate.threshold:
            out[u], emptied[u] = "", float(s)
        elif fallback is not None and not hyps[u].strip() and fallback[u].strip():
            out[u] = fallback[u]
            replaced.append(u)
    return out, emptied, replaced


def read_features(p_empty_file: Path, whisper_dir: Path, utts: Optional[Sequence[str]] = None) -> Tuple[List[str], np.ndarray]:
    """The utterances (of ``p_empty_file`` unless given) and their ``(N, 2)`` features."""
    p_map = read_map(p_empty_file) if utts is None else read_map_for(p_empty_file, utts)
    utts = list(p_map) if utts is None else list(utts)
    nsp_file = whisper_dir / "no_speech_prob"
    p_empty = no_speech_probs(utts, p_map, p_empty_file)
    no_speech = no_speech_probs(utts, read_map_for(nsp_file, utts), nsp_file)
    return utts, features(utts, p_empty, no_speech)


def _fit(args: argparse.Namespace) -> str:
    ns_utts, ns = read_features(*map(Path, args.nonspeech))
    sp = [read_features(*map(Path, s))[1] for s in args.speech]
    gate = fit_gate(ns, np.vstack(sp), args.rate)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**asdict(gate), "features": FEATURES}, indent=1) + "\n")
    kept = int(gate.is_empty(ns).sum())
    lost = ", ".join(f"{int(gate.is_empty(x).sum())}/{len(x)}" for x in sp)
    return (f"{args.out}: keeps {kept}/{len(ns_utts)} of the non-speech set \"\" (--rate {args.rate}), "
            f"empties {lost} of the speech sets; coef {np.round(gate.coef, 3).tolist()}")


def _apply(args: argparse.Namespace) -> str:
    text = args.gate.read_text()
    try:
        spec = json.loads(text)
        gate = EmptyGate(spec["coef"], spec["intercept"], spec["threshold"], spec["rate"])
    except (ValueError, KeyError, TypeError) as e:
        raise KeyError(f"{args.gate}: not a gate written by 'empty_gate fit' ({e})") from None
    hyps = read_map(args.hyp)
    _, x = read_features(args.p_empty, args.whisper, list(hyps))
    fallback = read_map_for(args.whisper / "text", hyps) if args.whisper_fallback == "true" else None
    out, emptied, replaced = gate_hyps(hyps, x, gate, fallback)
    write_map(args.out_dir / "text", out)
    write_map(args.out_dir / "emptied", {u: f"{s:.4f}" for u, s in emptied.items()})
    msg = f"{args.out_dir / 'text'}: {len(emptied)} of {len(hyps)} utterances gated to \"\""
    if fallback is not None:
        write_map(args.out_dir / "fallback", {u: "" for u in replaced})
        msg += f", Whisper's 1-best for {len(replaced)} \"\" hypotheses the gate calls speech"
    return msg


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit the gate on held-out non-speech and speech sets")
    f.add_argument("--nonspeech", nargs=2, required=True, metavar=("P_EMPTY", "WHISPER_DIR"),
                   help="p_empty file (speechllm_empty_threshold.py) and Whisper decode dir of a non-speech set")
    f.add_argument("--speech", nargs=2, action="append", required=True, metavar=("P_EMPTY", "WHISPER_DIR"),
                   help="the same for a speech set (repeat for more sets)")
    f.add_argument("--rate", type=float, default=0.98, help="Share of the non-speech set kept \"\"")
    f.add_argument("--out", type=Path, required=True, help="the gate (JSON)")
    a = sub.add_parser("apply", help="empty the hypotheses that the gate calls non-speech")
    a.add_argument("--gate", type=Path, required=True, help="JSON written by 'fit'")
    a.add_argument("--hyp", type=Path, required=True, help="Kaldi text: <utt> <1-best>")
    a.add_argument("--p_empty", type=Path, required=True, help="the LLM's p_empty of the same set")
    a.add_argument("--whisper", type=Path, required=True, help="Whisper's decode dir of the same set")
    a.add_argument("--whisper_fallback", choices=("true", "false"), default="false",
                   help="where the hypothesis is \"\" but the gate says speech, take Whisper's 1-best "
                   "(<whisper>/text); else decode with --empty_threshold 1.0 (never \"\" by itself)")
    a.add_argument("--out_dir", type=Path, required=True, help="text, emptied (and fallback) are written here")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    try:
        print(_fit(args) if args.cmd == "fit" else _apply(args))
    except KaldiFormatError as e:
        sys.exit(f"empty_gate: {e}")
    except (KeyError, ValueError) as e:
        sys.exit(f"empty_gate: {e.args[0]}")
    except FileNotFoundError as e:
        sys.exit(f"empty_gate: {e.filename}: no such file")


if __name__ == "__main__":
    main()
