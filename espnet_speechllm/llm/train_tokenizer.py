"""Train a byte-level BPE tokenizer for a from-scratch LLM and save it as an HF dir.

The HF ``tokenizers`` trainer does the work; this file only fixes the special
tokens and the layout so that ``AutoTokenizer.from_pretrained(out_dir)`` loads
it like any pretrained LLM's tokenizer.
"""

import argparse
import logging
from pathlib import Path
from typing import Iterable, List

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_kaldi_text, write_token_list

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def _texts(path: str, has_ids: bool) -> List[str]:
    """The non-empty texts of a Kaldi text file, or of a file of plain lines."""
    if has_ids:
        texts = [text for _, text in read_kaldi_text(path)]
    else:
        with open(path, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
    return [t for t in texts if t.strip()]


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str) -> int:
    """Train on ``texts`` and save to ``out_dir``; return the vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    n = len(fast)
    floor = len(SPECIAL_TOKENS) + len(pre_tokenizers.ByteLevel.alphabet())
    if n > vocab_size:
        logging.warning(
            f"vocab_size={vocab_size} is below the byte-level floor of {floor} tokens "
            f"({len(SPECIAL_TOKENS)} special + 256 bytes): the tokenizer has {n}"
        )
    elif n < vocab_size:
        logging.warning(
            f"vocab_size={vocab_size}: the text allows only {n - floor} merges, so the "
            f"tokenizer has {n} tokens (more text, or a smaller --vocab_size)"
        )
    return n


def export_token_list(tokenizer_dir: str, out_file: str) -> List[str]:
    """Write the tokenizer's tokens, one per line in id order (ESPnet token_list)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    tokens = tok.convert_ids_to_tokens(list(range(len(tok))))
    write_token_list(out_file, tokens)
    return tokens


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--text", help="Training text (Kaldi 'utt_id text' lines)")
    p.add_argument(
        "--export_only",
        action="store_true",
        help="Do not train: write the token list of the existing tokenizer in --out_dir",
    )
    p.add_argument("--no_ids", action="store_true", help="Text lines have no utt ids")
    p.add_argument("--vocab_size", type=int, default=1000)
    p.add_argument("--out_dir", required=True, help="Output HF tokenizer directory")
    p.add_argument("--token_list", help="Also write the token list here")
    return p


def main(argv=None) -> None:
    args = parse_args(get_parser(), argv)
    if args.export_only:
        if not args.token_list:
            raise SystemExit("--export_only needs --token_list")
        tokens = export_token_list(args.out_dir, args.token_list)
        logging.info(f"Wrote {len(tokens)} tokens of {args.out_dir} to {args.token_list}")
        return
    if not args.text:
        raise SystemExit("--text is required to train a tokenizer")
    n = train_tokenizer(_texts(args.text, not args.no_ids), args.vocab_size, args.out_dir)
    logging.info(f"Trained a {n}-token BPE tokenizer into {args.out_dir}")
    if args.token_list:
        export_token_list(args.out_dir, args.token_list)


if __name__ == "__main__":
    main()
