"""Batched encoding that equals encoding each utterance alone (for decoding).

On a padded batch, ESPnet's conformer differs from the same utterances encoded one
by one in two ways, and ESPnet has no switch for either, hence these hooks:

- lengths: the conv2d subsampling slices the padding mask from the end of the
  *padded* length, so a shorter utterance keeps one or two frames more than it has
  alone, frames that read padding and that attention then attends to;
- its convolution module's depthwise conv over time is not masked, so the last
  valid frames read the padded frames' states, where alone they read zeros.

Inside `exact_padding` the subsampled mask is rebuilt from each utterance's own
length (the conv arithmetic of the subsampling, which is what its slicing gives
for an unpadded input) and padded frames are zeroed before each depthwise
convolution. Masked attention, per-frame layers and the valid subsampled frames (they
only read valid inputs) are exact already.
"""

import contextlib
from typing import Iterator

import torch

from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder
from espnet_speechllm.utils.compat import ConvolutionModule, LegacyRelPositionMultiHeadedAttention

# Encoders whose batched output is exact under `exact_padding`.
BATCH_EXACT = (ConformerEncoder, TransformerEncoder)


def is_batch_exact(encoder: torch.nn.Module) -> bool:
    """Whether `exact_padding` makes ``encoder``'s batched output exact.

    Not with ESPnet's legacy relative positions (``rel_pos_type: legacy``, the
    conformer's default): their attention term depends on the padded length.
    ``rel_pos_type: latest`` and absolute positions are exact.
    """
    if type(encoder) not in BATCH_EXACT:
        return False
    return not any(isinstance(m, LegacyRelPositionMultiHeadedAttention) for m in encoder.modules())


def subsampled_lengths(embed: torch.nn.Module, lens: torch.Tensor) -> torch.Tensor:
    """Output frames of an unpadded input through the subsampling's Conv2d layers.  (B,) -> (B,)"""
    for conv in embed.modules():
        if isinstance(conv, torch.nn.Conv2d):  # input (B, C, T, F): time is dim 0 of the kernel
            k, s = conv.kernel_size[0], conv.stride[0]
            p, d = conv.padding[0], conv.dilation[0]
            lens = (lens + 2 * p - d * (k - 1) - 1) // s + 1
    return lens.clamp(min=0)


@contextlib.contextmanager
def exact_padding(encoder: torch.nn.Module, feats_lens: torch.Tensor) -> Iterator[None]:
    """Inside: ``encoder(feats, feats_lens)`` gives each utterance's result alone.

    A forward hook on the subsampling rebuilds its mask; a pre-hook on every layer
    with a ``ConvolutionModule`` keeps the layer's mask (B, 1, T) and one on the
    module's depthwise conv multiplies its input (B, C, T) by it.

    Args:
        encoder: An ESPnet encoder for which ``is_batch_exact`` holds.
        feats_lens: (B,) frames of each utterance in the padded input.
    """
    handles = []
    embed = getattr(encoder, "embed", None)
    if embed is not None and any(isinstance(m, torch.nn.Conv2d) for m in embed.modules()):

        def own_lengths(module, args, out):
            x, mask = out
            lens = subsampled_lengths(module, feats_lens.to(mask.device))
            steps = torch.arange(mask.size(-1), device=mask.device)
            return x, (steps[None, :] < lens[:, None])[:, None, :]

        handles.append(embed.register_forward_hook(own_lengths))
    for layer in encoder.modules():
        conv = getattr(layer, "conv_module", None)
        if not isinstance(conv, ConvolutionModule):
            continue
        state = {}

        def keep_mask(module, args, state=state):
            state["mask"] = args[1]  # EncoderLayer.forward(x_input, mask, ...)

        def zero_padding(module, args, state=state):
            (x,) = args  # (B, C, T), after the pointwise conv + GLU
            return (x * state["mask"].to(x.dtype),)

        handles.append(layer.register_forward_pre_hook(keep_mask))
        handles.append(conv.depthwise_conv.register_forward_pre_hook(zero_padding))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
