"""Small Transformer between compressor and LLM (Speech-LLaMA's "audio encoder")."""

from typing import Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.compressor.functional import length_mask, zero_padding


class TransformerProjector(AbsProjector):
    """Linear in -> pre-norm Transformer encoder layers -> LayerNorm -> Linear out.

    Randomly initialised and small, as in Speech-LLaMA (arXiv 2307.03917). Attention
    ignores padded frames. There is no positional encoding: the input states come
    from an encoder that already encodes position, and the LLM gives every output
    frame its own position.

    Args:
        input_size: Compressor output size.
        output_size: LLM hidden size.
        hidden_size: Model size of the Transformer layers.
        num_layers: Number of layers.
        attention_heads: Heads per layer; must divide `hidden_size`.
        linear_units: Feed-forward size.
        dropout_rate: Dropout inside the layers.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_size: int = 256,
        num_layers: int = 2,
        attention_heads: int = 4,
        linear_units: int = 1024,
        dropout_rate: float = 0.1,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"projector_conf num_layers must be >= 1, got {num_layers}")
        if attention_heads < 1 or hidden_size % attention_heads != 0:
            raise ValueError(
                f"projector_conf attention_heads ({attention_heads}) must divide "
                f"hidden_size ({hidden_size})"
            )
        self.embed = torch.nn.Linear(input_size, hidden_size)
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(
                d_model=hidden_size,
                nhead=attention_heads,
                dim_feedforward=linear_units,
                dropout=dropout_rate,
                batch_first=True,
                norm_first=True,
            )
            for _ in range(num_layers)
        )
        # Pre-norm layers leave their output unnormalised; normalise once at the end.
        self.after_norm = torch.nn.LayerNorm(hidden_size)
        self.output_layer = torch.nn.Linear(hidden_size, output_size)

    def output_size(self) -> int:
        return self.output_layer.out_features

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, Din), (B,) -> (B, T, Dout), (B,); T and lengths may be 0."""
        xs = self.embed(hs_pad)  # (B, T, Din) -> (B, T, H)
        if xs.size(1) > 0:  # attention cannot run on an empty time axis
            ignore = ~length_mask(hlens, xs.size(1))
            # A row that ignores every key would give NaN; let length-0 utterances
            # attend to their padding instead, their output is zeroed below anyway.
            ignore[hlens == 0] = False
            for layer in self.layers:
                xs = layer(xs, src_key_padding_mask=ignore)
        ys = self.output_layer(self.after_norm(xs))  # (B, T, H) -> (B, T, Dout)
        return zero_padding(ys, hlens), hlens
