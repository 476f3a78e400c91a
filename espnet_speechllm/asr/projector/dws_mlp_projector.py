"""DwsMLP: depthwise-separable strided convolution then an MLP (arXiv 2406.17272)."""

from typing import Optional

from typeguard import typechecked

from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor
from espnet_speechllm.asr.projector.conv_head_projector import ConvHeadProjector
from espnet_speechllm.asr.projector.mlp_projector import MLPProjector


class DwsMLPProjector(ConvHeadProjector):
    """Depthwise Conv1d(stride) -> GELU -> pointwise Linear -> GELU -> Linear.

    ::

        (B, T, Din) --depthwise conv k, stride s--> (B, ceil(T / s), Din)
                    --pointwise (1x1) Linear + GELU--> (B, T', hidden) --Linear--> (B, T', Dout)

    The depthwise convolution mixes time per channel (Din * k weights instead of
    Din * hidden * k); the 1x1 convolution is the MLP's first Linear. Padding is
    handled as in Conv1dMLPProjector.

    Args:
        input_size: Compressor output size.
        output_size: LLM hidden size.
        stride: Downsampling rate of the convolution.
        kernel_size: Frames per convolution window; defaults to `stride`.
        hidden_size: Pointwise output size (MLP inner size); defaults to `output_size`.
        dropout_rate: Dropout inside the MLP.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        output_size: int,
        stride: int = 2,
        kernel_size: Optional[int] = None,
        hidden_size: Optional[int] = None,
        dropout_rate: float = 0.0,
    ):
        super().__init__()
        hidden_size = output_size if hidden_size is None else hidden_size
        self.conv = ConvCompressor(input_size, input_size, stride, kernel_size, groups=input_size)
        self.head = MLPProjector(input_size, output_size, hidden_size, dropout_rate=dropout_rate)
