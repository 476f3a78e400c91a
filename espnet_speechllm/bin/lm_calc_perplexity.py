#!/usr/bin/env python3
"""Token-level perplexity of a causal LM on a Kaldi text file (recipe stage 8).

The LM is either an ESPnet training result (``--train_config`` +
``--model_file``) or an HF directory / cached hub id (``--model_name_or_path``).
Each utterance is scored as ``<s> text -> text </s>`` with the tokens of
``tokenizer(text, add_special_tokens=False)``, the ids training used; the
``</s>`` counts as a token. Writes ``<output_dir>/ppl`` (one number) and
``<output_dir>/utt2ppl``, and prints the result.
"""

import argparse
import math
from pathlib import Path
from typing import List, Tuple

import torch

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_kaldi_text


def load_lm(args: argparse.Namespace):
    """An ``ESPnetCausalLMModel`` in eval mode on ``args.device``."""
    if args.model_name_or_path is not None:
        from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
        from espnet_speechllm.lm.espnet_model import ESPnetCausalLMModel

        decoder = HFLLMDecoder(
            model_name_or_path=args.model_name_or_path, mode="frozen", dtype=args.dtype
        )
        model = ESPnetCausalLMModel(decoder).to(args.device)
    else:
        from espnet_speechllm.tasks.causal_lm import CausalLMTask

        model, _ = CausalLMTask.build_model_from_file(
            args.train_config, args.model_file, args.device
        )
    return model.eval()


@torch.no_grad()
def score(
    model, utts: List[Tuple[str, str]], batch_size: int
) -> List[Tuple[str, float, int]]:
    """``(utt_id, nll in nats, n_tokens)`` per utterance."""
    tokenizer = model.decoder.tokenizer
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(utts), batch_size):
        batch = utts[start : start + batch_size]
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for _, t in batch]
        lens = torch.tensor([len(x) for x in ids], device=device)
        text = torch.full((len(ids), max(1, int(lens.max()))), -1, device=device)
        for i, x in enumerate(ids):
            text[i, : len(x)] = torch.tensor(x, device=device)
        nll, ntok = model.nll(text, lens)
        out += [(k, float(a), int(b)) for (k, _), a, b in zip(batch, nll, ntok)]
    return out


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--text", required=True, help="Kaldi text file ('utt_id text')")
    p.add_argument("--output_dir", required=True, help="exp/<lm_exp>/perplexity_test")
    p.add_argument("--train_config", default=None, help="exp/<lm_exp>/config.yaml")
    p.add_argument("--model_file", default=None, help="exp/<lm_exp>/*.pth")
    p.add_argument("--model_name_or_path", default=None, help="Or an HF LLM dir")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    p.add_argument("--dtype", default="float32", help="With --model_name_or_path")
    return p


def main(cmd=None) -> float:
    parser = get_parser()
    args = parse_args(parser, cmd)
    if (args.model_name_or_path is None) == (args.train_config is None):
        parser.error("give either --train_config/--model_file or --model_name_or_path")
    if args.train_config is not None and args.model_file is None:
        parser.error("--train_config needs --model_file")
    utts = list(read_kaldi_text(args.text))
    if not utts:
        raise ValueError(f"--text {args.text}: no utterances")
    scores = score(load_lm(args), utts, args.batch_size)

    total_nll = sum(s[1] for s in scores)
    total_tokens = sum(s[2] for s in scores)
    ppl = math.exp(total_nll / total_tokens)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ppl").write_text(f"{ppl}\n", encoding="utf-8")
    (out / "utt2ppl").write_text(
        "".join(f"{k} {math.exp(nll / n)}\n" for k, nll, n in scores), encoding="utf-8"
    )
    print(
        f"{args.text}: perplexity {ppl:.4f} over {len(scores)} utterances, "
        f"{total_tokens} tokens (incl. </s>); written to {out / 'ppl'}"
    )
    return ppl


if __name__ == "__main__":
    main()
