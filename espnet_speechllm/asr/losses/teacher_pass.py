"""The teacher pass of the distillation term: the frozen LLM's own answer to the transcript.

No second copy of the LLM is held: the student's decoder runs again, under
``torch.no_grad()`` and in eval mode, on the text layout (``ChatLayout.text_ids``: the
transcript in place of the audio), with the LoRA adapters switched off (peft's
``disable_adapter()``), so the teacher is the pretrained LLM itself. With
``decoder_conf.mode: full`` the LLM's own weights train, and a frozen teacher would need a
copy: that is refused.

Called by asr/losses/auxiliary_losses.py (``AuxiliaryLosses.response_loss``).
"""

import contextlib
from typing import List, Sequence, Tuple

import torch

from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder


def pad_ids(
    ids: Sequence[List[int]], device: torch.device = torch.device("cpu")
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> ids padded with -1 and lengths.  B lists -> (B, P), (B,)"""
    rows = [torch.tensor(x, dtype=torch.long, device=device) for x in ids]
    lens = torch.tensor([len(x) for x in ids], dtype=torch.long, device=device)
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=-1), lens


def teacher_logits(
    decoder: HFLLMDecoder,
    prefix: torch.Tensor,
    prefix_lens: torch.Tensor,
    target: torch.Tensor,
    target_lens: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The base LLM's teacher-forced logits of ``target + [eos]`` after a text prefix.

    Args:
        decoder: The student's decoder (``frozen`` or ``lora``).
        prefix: Prefix token ids (the text layout), padded with -1 (B, P).
        prefix_lens: (B,), each >= 1.
        target: Response token ids, padded with -1 (B, L).
        target_lens: (B,)
    Returns:
        logits (B, L + 1, V) without a graph; lengths ``target_lens + 1``.
    """
    if decoder.mode == "full":
        raise ValueError(
            "model_conf.distill_weight > 0 needs decoder_conf.mode frozen or lora: with "
            "mode full the LLM itself trains, and its frozen teacher would be a second copy"
        )
    adapters_off = (
        decoder.llm.disable_adapter() if decoder.mode == "lora" else contextlib.nullcontext()
    )
    with torch.no_grad(), adapters_off, _eval_mode(decoder):
        return decoder(decoder.embed(prefix), prefix_lens, target, target_lens)


@contextlib.contextmanager
def _eval_mode(module: torch.nn.Module):
    """Eval mode inside (no dropout in the teacher), each submodule's own mode restored after."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
