#!/usr/bin/env python3
"""Export a trained speech-LLM as a transformers model directory (see export/hf_export.py).

::

    python -m espnet_speechllm.bin.export_hf --train_config exp/X/config.yaml \\
        --model_file exp/X/valid.acc.ave.pth --out_dir exp/X/hf [--merge_lora true]

Then, with no remote code::

    import espnet_speechllm.export
    model = AutoModel.from_pretrained("exp/X/hf")
    processor = AutoProcessor.from_pretrained("exp/X/hf")
"""

import argparse
import sys
from typing import Optional, Sequence

from espnet2.utils.types import str2bool
from espnet_speechllm.utils.cli import parse_args


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train_config", required=True, help="exp/X/config.yaml")
    parser.add_argument("--model_file", required=True, help="exp/X/valid.acc.ave.pth")
    parser.add_argument("--out_dir", required=True, help="the directory to write (exp/X/hf)")
    parser.add_argument(
        "--merge_lora",
        type=str2bool,
        default=False,
        help="Merge the LLM's LoRA adapters into it (else the export keeps them; "
        "llm/ is merged either way)",
    )
    parser.add_argument(
        "--readme", default=None, help="RESULTS.md for the model card (default: next to the config)"
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    from espnet_speechllm.export.hf_export import ExportError, export_hf
    from espnet_speechllm.recipe.pack_model import PackError

    try:
        out = export_hf(
            args.train_config, args.model_file, args.out_dir, args.merge_lora, args.readme
        )
    except (ExportError, PackError, FileNotFoundError) as e:
        sys.exit(f"export_hf: {e}")
    print(f"export_hf: wrote {out}")


if __name__ == "__main__":
    main()
