"""espnet_speechllm: speech-LLM training and inference as an ESPnet2 plugin."""

__version__ = "0.1.0"
