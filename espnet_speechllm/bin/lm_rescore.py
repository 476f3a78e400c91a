"""Rescore an ASR n-best list with a causal LLM (Speech-LLaMA's baseline B2).

::

    python -m espnet_speechllm.bin.lm_rescore --llm exp/llm_<name> --weight 0.3 \\
        --nbest_dir DECODE/logdir/output.1 [--nbest_dir ...] --output_dir DIR

Each ``--nbest_dir`` is an ESPnet decoding output (``{k}best_recog/{text,score}``, as
``espnet2.bin.asr_inference --nbest K`` writes). A hypothesis ``y`` gets::

    score(y) = asr_score(y) + weight * log P_llm(y </s> | <s>)

and the best one per utterance goes to ``DIR/1best_recog/{text,score}`` and to
``DIR/text`` (what stage 13 scores).
"""

import argparse
import logging
import re
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, write_map

_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf")


def parse_score(value: str, where: str) -> float:
    """``-12.5`` or ESPnet's ``tensor(-12.5)`` -> -12.5."""
    found = _FLOAT.search(value)
    if found is None:
        raise ValueError(f"{where}: no number in score {value!r}")
    return float(found.group(0))


def read_nbest(dirs: Sequence[Path]) -> Dict[str, List[Tuple[str, float]]]:
    """utt id -> [(text, asr_score), ...] in n-best order, from ESPnet decode dirs."""
    nbest: Dict[str, List[Tuple[str, float]]] = {}
    for d in dirs:
        ranks = sorted(d.glob("*best_recog"), key=lambda p: int(p.name.split("best")[0]))
        if not ranks:
            raise FileNotFoundError(f"{d}: no {{k}}best_recog directories")
        for rank in ranks:
            texts = read_map(rank / "text")
            for key, value in read_map(rank / "score").items():
                where = f"{rank / 'score'}: utterance {key}"
                nbest.setdefault(key, []).append((texts.get(key, ""), parse_score(value, where)))
    return nbest


@torch.no_grad()
def llm_logprob(llm, tokenizer, texts: Sequence[str], batch_size: int = 16) -> torch.Tensor:
    """Sum of log P(token) over ``text + </s>`` after ``<s>``.  N texts -> (N,)"""
    bos = tokenizer.bos_token_id
    eos = tokenizer.eos_token_id
    out = []
    for i in range(0, len(texts), batch_size):
        seqs = [
            ([bos] if bos is not None else []) + tokenizer(t, add_special_tokens=False).input_ids
            + [eos]
            for t in texts[i : i + batch_size]
        ]
        lens = torch.tensor([len(s) for s in seqs])
        ids = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(s) for s in seqs], batch_first=True, padding_value=eos
        )  # (B, L)
        mask = torch.arange(ids.size(1))[None, :] < lens[:, None]
        logits = llm(input_ids=ids, attention_mask=mask.long()).logits.float()
        logp = logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]  # (B, L-1)
        out.append((logp * mask[:, 1:]).sum(-1))
    return torch.cat(out) if out else torch.zeros(0)


def rescore(
    asr_scores: torch.Tensor, lm_scores: torch.Tensor, weight: float
) -> Tuple[int, torch.Tensor]:
    """Index of the best hypothesis and the combined scores.  (N,), (N,) -> int, (N,)"""
    total = asr_scores + weight * lm_scores
    return int(total.argmax()), total


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--llm", required=True, help="HF causal LM directory (+ tokenizer)")
    parser.add_argument("--weight", type=float, required=True, help="LLM log-prob weight")
    parser.add_argument("--nbest_dir", type=Path, nargs="+", required=True)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--batch_size", type=int, default=16)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    args = parse_args(get_parser(), argv)
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(args.llm), local_files_only=True)
    llm = AutoModelForCausalLM.from_pretrained(str(args.llm), local_files_only=True).eval()
    nbest = read_nbest(args.nbest_dir)
    best_dir = args.output_dir / "1best_recog"
    best_dir.mkdir(parents=True, exist_ok=True)
    changed = 0
    best_text, best_score = {}, {}
    for key in sorted(nbest):
        hyps = nbest[key]
        lm = llm_logprob(llm, tokenizer, [t for t, _ in hyps], args.batch_size)
        asr = torch.tensor([s for _, s in hyps])
        best, total = rescore(asr, lm, args.weight)
        changed += int(best != 0)
        best_text[key] = hyps[best][0].strip()
        best_score[key] = str(float(total[best]))
    for path in (best_dir / "text", args.output_dir / "text"):
        write_map(path, best_text)
    write_map(best_dir / "score", best_score)
    # recipe.results shows it beside the decoding time of the n-best.
    (args.output_dir / "rescore_time").write_text(f"{time.perf_counter() - start:.1f}\n")
    logging.info(
        f"lm_rescore: {len(nbest)} utterances, weight {args.weight}: "
        f"1-best changed for {changed}; wrote {args.output_dir / 'text'}"
    )


if __name__ == "__main__":
    main()
