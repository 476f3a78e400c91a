"""Offline look-up of Hugging Face model paths, shared by the HF encoders, the LLM decoder,
stage 6 (LLM import) and stage 14 (packing)."""

import os


def is_hub_id(value: str) -> bool:
    """``value`` is a valid Hugging Face repo id (``gpt2``, ``Qwen/Qwen2.5-0.5B``)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def check_local(path: str, local_files_only: bool, key: str, hint: str = "") -> None:
    """Fail early, naming the config key, when ``path`` cannot be found offline.

    Args:
        path: A local directory or a hub id.
        local_files_only: When false, any path passes (a download may follow).
        key: The config key that holds ``path`` (e.g. ``decoder_conf.model_name_or_path``).
        hint: Extra advice for the error message (how to get a local directory).
    """
    if os.path.isdir(path) or not local_files_only:
        return
    from huggingface_hub import try_to_load_from_cache

    # A missing absolute path is not even a valid hub id.
    cached = try_to_load_from_cache(path, "config.json") if is_hub_id(path) else None
    if not isinstance(cached, str):
        section = key.split(".")[0]
        raise FileNotFoundError(
            f"{key}={path!r} is neither a local directory nor a hub id in the local "
            f"Hugging Face cache. Pass a local directory{hint}, or set "
            f"{section}.local_files_only=false to allow a download."
        )
