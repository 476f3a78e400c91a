"""The one place for ESPnet imports that move between releases.

ESPnet 202604+ moved ``espnet.nets.*`` to ``espnet2.legacy.nets.*``.
"""

try:  # ESPnet >= 202604
    from espnet2.legacy.nets.ctc_prefix_score import CTCPrefixScore  # noqa: F401
    from espnet2.legacy.nets.scorer_interface import ScorerInterface  # noqa: F401
except ImportError:  # ESPnet <= 202511
    from espnet.nets.ctc_prefix_score import CTCPrefixScore  # noqa: F401
    from espnet.nets.scorer_interface import ScorerInterface  # noqa: F401

from espnet2.asr.decoder.abs_decoder import AbsDecoder  # noqa: F401

try:  # ESPnet >= 202604
    from espnet2.legacy.nets.pytorch_backend.conformer.convolution import (  # noqa: F401
        ConvolutionModule,
    )
    from espnet2.legacy.nets.pytorch_backend.transformer.attention import (  # noqa: F401
        LegacyRelPositionMultiHeadedAttention,
    )
except ImportError:  # ESPnet <= 202511
    from espnet.nets.pytorch_backend.conformer.convolution import ConvolutionModule  # noqa: F401
    from espnet.nets.pytorch_backend.transformer.attention import (  # noqa: F401
        LegacyRelPositionMultiHeadedAttention,
    )
