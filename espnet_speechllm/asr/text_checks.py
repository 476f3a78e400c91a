"""Input checks of the model's token id batches: fail naming the utterance, instead of an
IndexError inside the LLM."""

from typing import Optional, Sequence

import torch


def check_text(
    text: torch.Tensor,
    text_lengths: torch.Tensor,
    vocab_size: int,
    utt_id: Optional[Sequence[str]] = None,
) -> None:
    """Raise ValueError unless every id within its length is in ``[0, vocab_size)``.

    Args:
        text: Token ids padded with -1 (B, L).
        text_lengths: (B,)
        vocab_size: Rows of the LLM's embedding table.
        utt_id: Names the utterance in errors (else its batch index).
    """

    def name(b: int) -> str:
        return str(utt_id[b]) if utt_id is not None else f"batch index {b}"

    too_long = (text_lengths > text.size(1)).nonzero()
    if too_long.numel():
        b = int(too_long[0])
        raise ValueError(
            f"{name(b)}: text_lengths={int(text_lengths[b])} > "
            f"{text.size(1)} padded text columns"
        )
    steps = torch.arange(text.size(1), device=text.device)
    bad = (steps[None, :] < text_lengths[:, None]) & ((text < 0) | (text >= vocab_size))
    if bool(bad.any()):
        b = int(bad.any(1).nonzero()[0])
        raise ValueError(
            f"{name(b)}: text token id {int(text[b][bad[b]][0])} is outside the "
            f"LLM vocabulary [0, {vocab_size}); was the text "
            "tokenized with another --token_list / --bpemodel?"
        )
