"""Stage 9: ESPnet's CTC-only ASR model on our CTC compressor's classes.

Our CTC compressor has ``V + 1`` classes: blank is 0 and LLM token ``t`` is ``t + 1``.
ESPnet's ``--token_type hugging_face`` ignores ``--token_list`` and yields the tokenizer's
own ids, so its class ``t`` would be token ``t`` (one off, and token 0 merged with blank).
Written by hand because no option of ESPnet shifts ids: each transcript is written as its
LLM token strings (ESPnet's own ``HuggingFaceTokenizer``, the one our preprocessor uses)
and trained with ``--token_type word --token_list tokens_ctc.txt`` (``<blank>`` + the
LLM token list), so ESPnet's ``TokenIDConverter`` gives exactly ``t + 1``. It insists on an
``<unk>`` entry: one is appended when the LLM has none, and ``export`` drops that class.

CLI::

    python -m espnet_speechllm.recipe.ctc_pretrain prepare --bpemodel exp/llm_<name> \\
        --token_list tokens.txt --out_token_list tokens_ctc.txt IN_TEXT OUT_TEXT [IN OUT ...]
    python -m espnet_speechllm.recipe.ctc_pretrain export valid.loss.ave.pth \\
        --token_list tokens.txt --out init.pth
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Sequence

from espnet_speechllm.utils.atomic_file import atomic_path
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_kaldi_text, read_token_list, write_token_list

BLANK = "<blank>"
UNK = "<unk>"


class CTCPretrainError(ValueError):
    """The LLM's tokens cannot be written as ESPnet word tokens; names the token or file."""


def ctc_token_list(tokens: Sequence[str]) -> List[str]:
    """``<blank>`` + the LLM tokens in id order (+ ``<unk>`` if absent).  Class ``t + 1`` = token ``t``."""
    for i, t in enumerate(tokens):
        if not t or t != t.strip() or len(t.split()) != 1:
            raise CTCPretrainError(
                f"LLM token {i} ({t!r}) is empty or holds whitespace: it cannot be an "
                "ESPnet word token (stage 9)"
            )
    if len(set(tokens)) != len(tokens) or BLANK in tokens:
        raise CTCPretrainError(f"the LLM token list repeats a token or holds {BLANK!r}")
    return [BLANK, *tokens] + ([] if UNK in tokens else [UNK])


def write_token_text(tokenizer, token_set: set, src: Path, dst: Path) -> int:
    """``utt text`` -> ``utt tok1 tok2 ...``; returns the number of lines."""
    lines = []
    for n, (utt, text) in enumerate(read_kaldi_text(str(src)), 1):
        toks = tokenizer.text2tokens(text)
        unknown = [t for t in toks if t not in token_set]
        if unknown:
            raise CTCPretrainError(f"{src}:{n}: utterance {utt}: tokens {unknown[:5]} not in the token list")
        lines.append(" ".join([utt, *toks]))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return len(lines)


def export(checkpoint: str, num_llm_tokens: int, out: str) -> None:
    """Encoder + CTC head of the CTC-only model, the head cut to ``V + 1`` classes."""
    import torch

    from espnet_speechllm.pretrained.safe_load import load_checkpoint

    state = load_checkpoint(checkpoint)
    keep = {k: v for k, v in state.items() if k.startswith(("encoder.", "ctc."))}
    for k in ("ctc.ctc_lo.weight", "ctc.ctc_lo.bias"):
        if k not in keep:
            raise CTCPretrainError(f"{checkpoint}: no {k} (not a CTC model?)")
        if keep[k].size(0) < num_llm_tokens + 1:
            raise CTCPretrainError(
                f"{checkpoint}: {k} has {keep[k].size(0)} classes, fewer than the "
                f"{num_llm_tokens + 1} of blank + the LLM's tokens"
            )
        keep[k] = keep[k][: num_llm_tokens + 1].clone()
    with atomic_path(out) as tmp:  # stage 9 takes an existing init.pth as done
        torch.save(keep, tmp)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="CTC token list + token-string transcripts")
    pp.add_argument("--bpemodel", required=True, help="The LLM tokenizer's directory")
    pp.add_argument("--token_list", required=True, help="The LLM token list (id order)")
    pp.add_argument("--out_token_list", required=True)
    pp.add_argument("pairs", nargs="+", help="IN_TEXT OUT_TEXT pairs")
    pe = sub.add_parser("export", help="Encoder + CTC head with V + 1 classes")
    pe.add_argument("checkpoint")
    pe.add_argument("--token_list", required=True, help="The LLM token list (id order)")
    pe.add_argument("--out", required=True)
    args = parse_args(p, argv)
    try:
        tokens = read_token_list(args.token_list)
        if args.cmd == "export":
            export(args.checkpoint, len(tokens), args.out)
            logging.info(f"{args.out}: encoder + CTC head ({len(tokens) + 1} classes)")
            return
        if len(args.pairs) % 2:
            raise CTCPretrainError("give IN_TEXT OUT_TEXT pairs")
        ctc_tokens = ctc_token_list(tokens)
        write_token_list(args.out_token_list, ctc_tokens)
        from espnet2.text.hugging_face_tokenizer import HuggingFaceTokenizer

        tokenizer = HuggingFaceTokenizer(args.bpemodel)
        for src, dst in zip(args.pairs[::2], args.pairs[1::2]):
            n = write_token_text(tokenizer, set(tokens), Path(src), Path(dst))
            logging.info(f"{dst}: {n} transcripts as LLM token strings")
    except (ValueError, OSError) as e:  # CTCPretrainError, or a malformed text file
        sys.exit(f"ctc_pretrain: {e}")


if __name__ == "__main__":
    main()
