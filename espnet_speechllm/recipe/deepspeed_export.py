"""ESPnet's DeepSpeed checkpoints -> the ``<epoch>epoch.pth`` and n-best averages decoding reads.

::

    python -m espnet_speechllm.recipe.deepspeed_export exp/<tag> [--nbest N ...]

ESPnet's DeepSpeedTrainer (``--use_deepspeed true``) saves each epoch only in DeepSpeed's
layout, ``checkpoint_<e>/<tag>/``, and links ``valid.acc.ave_1best.pth`` to an
``<e>epoch.pth`` it never writes (ESPnet 202511; its n-best averaging also reads ZeRO-2's
file name only). This writes ``<e>epoch.pth`` for every checkpoint, holding the model's
own state-dict keys (its trained parts: see asr/frozen_weights.py) with DeepSpeed's fp32
weights (``zero_to_fp32``, which gathers ZeRO-2 and ZeRO-3 partitions alike), then redoes
ESPnet's n-best averaging (``best_model_criterion``, ``keep_nbest_models`` of config.yaml)
from them with the reporter of the last checkpoint. Re-running rewrites the same files.
"""

import argparse
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
import yaml

from espnet_speechllm.utils.cli import parse_args


def deepspeed_checkpoints(exp: Path) -> List[Path]:
    """``exp/checkpoint_<e>`` dirs (each with DeepSpeed's ``latest`` file), by epoch."""
    found = [p for p in exp.glob("checkpoint_*") if (p / "latest").is_file()]
    if not found:
        raise FileNotFoundError(
            f"{exp}: no DeepSpeed checkpoint_<epoch>/latest (was it trained with "
            "--use_deepspeed true?)"
        )
    return sorted(found, key=lambda p: int(p.name.rpartition("_")[2]))


def _model_states(step_dir: Path) -> dict:
    # Rank 0's file: mp_rank_00_model_states.pt (ZeRO 0-2), zero_pp_rank_0_... (ZeRO-3).
    for name in ("mp_rank_00_model_states.pt", "zero_pp_rank_0_mp_rank_00_model_states.pt"):
        if (step_dir / name).is_file():
            return torch.load(step_dir / name, map_location="cpu", weights_only=False)
    raise FileNotFoundError(f"{step_dir}: no DeepSpeed *mp_rank_00_model_states.pt")


def epoch_state_dict(checkpoint: Path) -> Dict[str, torch.Tensor]:
    """The model's state dict from one DeepSpeed checkpoint dir: its keys, fp32 weights.

    Args:
        checkpoint: ``exp/checkpoint_<e>`` (``latest`` names the step dir inside).
    """
    try:
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
    except ImportError as e:
        raise ImportError(f"{checkpoint} needs DeepSpeed to read: pip install deepspeed") from e

    tag = (checkpoint / "latest").read_text().strip()
    states = _model_states(checkpoint / tag)
    module, buffers = states["module"], set(states.get("buffer_names", ()))
    # The frozen LLM is in DeepSpeed's checkpoint too; the model's state dict leaves it out.
    fp32 = get_fp32_state_dict_from_zero_checkpoint(
        str(checkpoint), tag=tag, exclude_frozen_parameters=True
    )
    missing = [k for k in module if k not in buffers and k not in fp32]
    if missing:
        raise KeyError(f"{checkpoint}: DeepSpeed holds no weights for {missing[:5]}")
    return {k: v if k in buffers else fp32[k] for k, v in module.items()}


def export(exp: Path, nbest: Optional[Sequence[int]] = None) -> List[Path]:
    """Write ``exp/<e>epoch.pth`` of every DeepSpeed checkpoint and ESPnet's averages.

    Args:
        exp: The training's ``--output_dir`` (holds config.yaml).
        nbest: The n of the n-best averages (default: config's ``keep_nbest_models``).
    """
    from espnet2.main_funcs.average_nbest_models import average_nbest_models
    from espnet2.train.reporter import Reporter

    checkpoints = deepspeed_checkpoints(exp)
    written = []
    for checkpoint in checkpoints:
        out = exp / f"{checkpoint.name.rpartition('_')[2]}epoch.pth"
        torch.save(epoch_state_dict(checkpoint), out)
        logging.info(f"{checkpoint} -> {out}")
        written.append(out)
    config = yaml.safe_load((exp / "config.yaml").read_text(encoding="utf-8"))
    last = checkpoints[-1]
    reporter = Reporter()
    reporter.load_state_dict(_model_states(last / (last / "latest").read_text().strip())["reporter"])
    average_nbest_models(
        reporter=reporter,
        output_dir=exp,
        best_model_criterion=config["best_model_criterion"],
        nbest=list(nbest) if nbest else config["keep_nbest_models"],
    )
    return written


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("exp", type=Path, help="the training's --output_dir")
    parser.add_argument(
        "--nbest", type=int, nargs="+", default=None, help="default: keep_nbest_models"
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    export(args.exp, args.nbest)


if __name__ == "__main__":
    main()
