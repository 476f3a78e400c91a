"""Trained speech-LLMs as transformers models: ``import espnet_speechllm.export`` registers them.

After the import, a directory written by ``python -m espnet_speechllm.bin.export_hf``
loads with transformers' Auto classes, without ``trust_remote_code``::

    import espnet_speechllm.export
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained("exp/X/hf")        # SpeechLLMForConditionalGeneration
    processor = AutoProcessor.from_pretrained("exp/X/hf")
    text = processor.batch_decode(model.generate(**processor(speech, sampling_rate=16000)))

``AutoModelForSpeechSeq2Seq`` gives the same class; ``AutoModelForCausalLM`` loads the
LLM alone from ``exp/X/hf/llm``.
"""

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForSpeechSeq2Seq,
    AutoProcessor,
)

from espnet_speechllm.export.hf_modeling import (
    MODEL_TYPE,
    SpeechLLMConfig,
    SpeechLLMForConditionalGeneration,
)
from espnet_speechllm.export.hf_processing import SpeechLLMFeatureExtractor, SpeechLLMProcessor

AutoConfig.register(MODEL_TYPE, SpeechLLMConfig, exist_ok=True)
AutoModel.register(SpeechLLMConfig, SpeechLLMForConditionalGeneration, exist_ok=True)
AutoModelForSpeechSeq2Seq.register(
    SpeechLLMConfig, SpeechLLMForConditionalGeneration, exist_ok=True
)
AutoFeatureExtractor.register(SpeechLLMConfig, SpeechLLMFeatureExtractor, exist_ok=True)
AutoProcessor.register(SpeechLLMConfig, SpeechLLMProcessor, exist_ok=True)

__all__ = [
    "SpeechLLMConfig",
    "SpeechLLMFeatureExtractor",
    "SpeechLLMForConditionalGeneration",
    "SpeechLLMProcessor",
]
