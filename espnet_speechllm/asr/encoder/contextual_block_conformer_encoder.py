"""ESPnet's contextual block conformer (streaming) with the encoder contract of this project.

``espnet2.asr.encoder.contextual_block_conformer_encoder.ContextualBlockConformerEncoder``
(Tsunoo et al., 2021) trains on whole utterances with blockwise masks (``forward``) and
decodes block by block (``forward(..., infer_mode=True)``, as ESPnet's
``Speech2TextStreaming`` calls it). Its inference path returns lengths as floats (or
zeros for the short-utterance path) and changes ``ilens`` in place; ``forward_chunk``
wraps it with the ``(xs_pad, ilens) -> (ys_pad, olens)`` contract: long lengths equal
to the frames returned, inputs untouched.
"""

from typing import Any, Dict, Optional, Tuple

import torch
from espnet2.asr.encoder.contextual_block_conformer_encoder import (
    ContextualBlockConformerEncoder as _ESPnetContextualBlockConformerEncoder,
)

EncoderStates = Optional[Dict[str, Any]]


class ContextualBlockConformerEncoder(_ESPnetContextualBlockConformerEncoder):
    """ESPnet's contextual block conformer plus a public chunk API.

    Configured exactly as ESPnet's (``block_size``, ``hop_size``, ``look_ahead`` in
    encoder frames, i.e. after subsampling). ``is_streaming`` tells the decoding side
    that ``forward_chunk`` exists.
    """

    is_streaming = True

    def forward_chunk(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        states: EncoderStates = None,
        is_final: bool = False,
    ) -> Tuple[torch.Tensor, torch.Tensor, EncoderStates]:
        """Encode the next features of one utterance, block by block.

        Frames come out once their block (with its look-ahead) is complete; the rest is
        kept in ``states`` (input buffers, the context vector, the blocks done). With
        ``is_final`` the remainder is flushed and the states are None.

        Args:
            xs_pad: The new feature frames (1, T, F); T may be 0 only with ``is_final``.
            ilens: (1,)
            states: What the previous call returned (None at the start).
            is_final: This is the last chunk of the utterance.
        Returns:
            ys_pad (1, T', D) (T' may be 0), olens (1,) long, the next states.
        """
        if xs_pad.size(0) != 1:
            raise ValueError(f"forward_chunk takes one utterance, got a batch of {xs_pad.size(0)}")
        if self.training:
            raise RuntimeError("forward_chunk is for decoding: call encoder.eval() first")
        if xs_pad.size(1) == 0 and states is None:
            return xs_pad.new_zeros(1, 0, self.output_size()), ilens.new_zeros(1), None
        ys, _, next_states = self.forward_infer(xs_pad, ilens.clone(), states, is_final)
        # NOTE(stream): forward_infer returns float lengths, or zeros on its
        # short-utterance path; the frames returned are the truth.
        return ys, torch.full_like(ilens, ys.size(1)), next_states
