"""DecodingInput: what ``ESPnetSpeechLLMModel.prepare_decoding`` hands to the decoder."""

from typing import List, NamedTuple, Optional

import torch


class DecodingInput(NamedTuple):
    """One padded batch ready for ``decoder.generate``, each utterance as if alone.

    Args:
        prefix: ``[pre | audio | post]`` embeddings, right padded (B, P, D).
        prefix_lens: (B,)
        audio_lens: Audio positions per utterance after compression (B,); 0 when
            the compressor kept nothing (e.g. all frames CTC blank).
        enc_lens: Encoder frames per utterance (B,).
        ctc_logp: Per utterance, the CTC head's log posteriors (T_b, V + 1) with
            class 0 = blank (see compressor/ctc_compressor.py); None unless asked for.
    """

    prefix: torch.Tensor
    prefix_lens: torch.Tensor
    audio_lens: torch.Tensor
    enc_lens: torch.Tensor
    ctc_logp: Optional[List[torch.Tensor]]
