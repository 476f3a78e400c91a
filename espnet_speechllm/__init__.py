"""espnet_speechllm: speech-LLM training and inference as an ESPnet2 plugin."""

from espnet_speechllm.utils.offline_imports import install as _install_offline_imports

__version__ = "0.1.0"

_install_offline_imports()  # before anything imports espnet2 (and with it g2p_en)
