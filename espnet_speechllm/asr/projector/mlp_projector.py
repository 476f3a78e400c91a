"""Two-layer MLP projector (SLAM-ASR, the comprehensive solution's Conv1dMLP head)."""

from typing import Optional, Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.compressor.functional import zero_padding

ACTIVATIONS = {"gelu": torch.nn.GELU, "relu": torch.nn.ReLU, "silu": torch.nn.SiLU}


class MLPProjector(AbsProjector):
    """Linear -> activation -> dropout -> Linear on every frame.

    Args:
        input_size: Compressor output size.
        output_size: LLM hidden size.
        hidden_size: Inner size; defaults to `output_size`.
        activation: One of gelu, relu, silu.
        dropout_rate: Dropout after the activation.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_size: Optional[int] = None,
        activation: str = "gelu",
        dropout_rate: float = 0.0,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"projector_conf activation must be one of {sorted(ACTIVATIONS)}, "
                f"got {activation!r}"
            )
        hidden_size = output_size if hidden_size is None else hidden_size
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(input_size, hidden_size),
            ACTIVATIONS[activation](),
            torch.nn.Dropout(dropout_rate),
            torch.nn.Linear(hidden_size, output_size),
        )
        self._output_size = output_size

    def output_size(self) -> int:
        return self._output_size

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, Din), (B,) -> (B, T, Dout), (B,)"""
        return zero_padding(self.mlp(hs_pad), hlens), hlens
