"""``model_conf.ctc_embedding``: each audio embedding plus the LLM's own embedding of what
the CTC head heard there (the CTC posteriors of that segment times the token table)."""

import torch

from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.decoder.abs_llm_decoder import AbsLLMDecoder
from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.projector.conv_head_projector import ConvHeadProjector


def check_ctc_embedding(compressor: AbsCompressor, projector: AbsProjector) -> None:
    """Refuse a model whose audio positions are not the compressor's CTC segments."""
    if compressor.ctc_head is None:
        raise ValueError(
            "model_conf.ctc_embedding needs a CTC compressor (compressor: ctc), "
            f"got {type(compressor).__name__}"
        )
    if isinstance(projector, ConvHeadProjector) and projector.conv.stride > 1:
        raise ValueError(
            "model_conf.ctc_embedding adds one CTC token embedding per compressor frame, "
            f"but the projector {type(projector).__name__} downsamples by "
            f"{projector.conv.stride} (projector_conf.stride): use stride 1 or "
            "ctc_embedding: false"
        )


def ctc_token_embedding(ctc_head, decoder: AbsLLMDecoder, comp: torch.Tensor) -> torch.Tensor:
    """sum_t p_ctc(token t | segment) * E[t] (blank mass adds nothing).  (B, T', D) -> (B, T', H)"""
    post = ctc_head.softmax(comp)[..., 1:]  # drop blank: (B, T', V)
    table = decoder.input_embeddings.weight[: post.size(-1)]
    return post.to(table.dtype) @ table
