"""Pure functions that lay out ``[prefix | text]`` sequences for a causal LM.

Written here because HF has no helper that merges per-utterance continuous
prefixes (prompt + audio) with token embeddings and builds a prefix-LM mask;
``transformers`` accepts the resulting 4-D mask as-is.
"""

from typing import Tuple

import torch


def pack_right(
    prefix: torch.Tensor,
    prefix_lens: torch.Tensor,
    text: torch.Tensor,
    text_lens: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Concatenate each prefix with its text, right padded.

    ``(B, P, D), (B,), (B, L, D), (B,) -> (B, P + L, D), (B,)``

    Example (P=3, L=2, lens 2/3 and 1/2)::

        prefix a a _ | text t _   ->  a a t _ _
        prefix b b b | text u u   ->  b b b u u
    """
    bsz, p_max, dim = prefix.shape
    l_max = text.size(1)
    total = prefix_lens + text_lens
    out = prefix.new_zeros(bsz, p_max + l_max, dim)
    # (B, P): where each prefix frame lands; padded frames are dropped.
    p_idx = torch.arange(p_max, device=prefix.device).expand(bsz, -1)
    p_ok = p_idx < prefix_lens[:, None]
    out[:, :p_max][p_ok] = prefix[p_ok]
    # (B, L): text frame j of utterance b lands at prefix_lens[b] + j.
    t_idx = torch.arange(l_max, device=prefix.device).expand(bsz, -1)
    t_ok = t_idx < text_lens[:, None]
    b_idx = torch.arange(bsz, device=prefix.device)[:, None].expand(-1, l_max)
    out[b_idx[t_ok], (prefix_lens[:, None] + t_idx)[t_ok]] = text[t_ok]
    return out, total


def left_pad(xs: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Move each right-padded sequence to the right end.  ``(B, T, D) -> (B, T, D)``

    Example: ``[a b _]`` -> ``[_ a b]``.
    """
    bsz, t_max = xs.shape[:2]
    shift = t_max - lens  # (B,)
    src = torch.arange(t_max, device=xs.device)[None, :] - shift[:, None]
    valid = src >= 0
    src = src.clamp(min=0)
    out = torch.gather(xs, 1, src[..., None].expand(-1, -1, xs.size(-1)))
    return out * valid[..., None].to(xs.dtype)


def padding_mask(lens: torch.Tensor, t_max: int, left: bool = False) -> torch.Tensor:
    """1 on valid positions.  ``(B,) -> (B, T)`` long."""
    idx = torch.arange(t_max, device=lens.device)[None, :]
    if left:
        return (idx >= (t_max - lens)[:, None]).long()
    return (idx < lens[:, None]).long()


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on the first valid token.  ``(B, T) -> (B, T)``"""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def prefix_lm_mask(
    valid: torch.Tensor,
    bidir: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Additive attention mask: causal, plus full attention inside the prefix.

    ``valid (B, T), bidir (B, T) -> (B, 1, T, T)`` with 0 where attention is
    allowed and the dtype's minimum elsewhere. Query i sees key j when j is valid
    and (j <= i, or both i and j are flagged ``bidir``). Every query also sees
    itself, so no row is all-masked (softmax would give NaN).

    Example (``bidir`` on the first two of three)::

        1 1 0
        1 1 0
        1 1 1
    """
    t = valid.size(1)
    causal = torch.ones(t, t, dtype=torch.bool, device=valid.device).tril()
    allow = causal[None] | (bidir[:, :, None] & bidir[:, None, :])
    allow = allow & valid[:, None, :].bool()
    allow = allow | torch.eye(t, dtype=torch.bool, device=valid.device)[None]
    mask = torch.zeros(allow.shape, dtype=dtype, device=valid.device)
    mask.masked_fill_(~allow, torch.finfo(dtype).min)
    return mask[:, None]
