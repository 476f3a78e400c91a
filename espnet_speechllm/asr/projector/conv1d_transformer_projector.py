"""Conv1dTransformer: strided Conv1d then Transformer layers (arXiv 2406.17272)."""

from typing import Optional

from typeguard import typechecked

from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor
from espnet_speechllm.asr.projector.conv_head_projector import ConvHeadProjector
from espnet_speechllm.asr.projector.transformer_projector import TransformerProjector


class Conv1dTransformerProjector(ConvHeadProjector):
    """Conv1d(stride) -> GELU -> TransformerProjector (pre-norm torch layers).

    ::

        (B, T, Din) --conv k, stride s--> (B, ceil(T / s), hidden)
                    --num_layers x TransformerEncoderLayer--> --LayerNorm, Linear--> (B, T', Dout)

    Attention ignores frames past each (downsampled) length. `hidden_size`,
    `num_layers`, `attention_heads`, `linear_units` and `dropout_rate` are those of
    TransformerProjector, whose input is the convolution's `hidden_size` channels.

    Args:
        input_size: Compressor output size.
        output_size: LLM hidden size.
        stride: Downsampling rate of the convolution.
        kernel_size: Frames per convolution window; defaults to `stride`.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        output_size: int,
        stride: int = 2,
        kernel_size: Optional[int] = None,
        hidden_size: int = 256,
        num_layers: int = 2,
        attention_heads: int = 4,
        linear_units: int = 1024,
        dropout_rate: float = 0.1,
    ):
        super().__init__()
        self.conv = ConvCompressor(input_size, hidden_size, stride, kernel_size)
        self.head = TransformerProjector(
            hidden_size,
            output_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            attention_heads=attention_heads,
            linear_units=linear_units,
            dropout_rate=dropout_rate,
        )
