"""Conv1dMLP: strided Conv1d then a two-layer MLP (the comprehensive solution's adapter)."""

from typing import Optional

from typeguard import typechecked

from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor
from espnet_speechllm.asr.projector.conv_head_projector import ConvHeadProjector
from espnet_speechllm.asr.projector.mlp_projector import MLPProjector


class Conv1dMLPProjector(ConvHeadProjector):
    """Conv1d(stride) -> GELU -> Linear -> GELU -> Linear (arXiv 2406.17272, Sec. 2).

    ::

        (B, T, Din) --conv k, stride s--> (B, ceil(T / s), hidden) --MLP--> (B, T', Dout)

    Output frame t sees input frames [t * s, t * s + k); frames past each length are
    zeroed before the convolution, so padding never leaks into an utterance.

    Args:
        input_size: Compressor output size.
        output_size: LLM hidden size.
        stride: Downsampling rate of the convolution.
        kernel_size: Frames per convolution window; defaults to `stride`.
        hidden_size: Convolution channels and MLP inner size; defaults to `output_size`.
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
        self.conv = ConvCompressor(input_size, hidden_size, stride, kernel_size)
        self.head = MLPProjector(hidden_size, output_size, hidden_size, dropout_rate=dropout_rate)
