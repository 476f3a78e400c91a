"""What SpeechLLMTask and CausalLMTask set up alike: token list, tokenizer, collate, loading.

Both tokenize with the LLM's own tokenizer (``--token_type hugging_face``,
``--bpemodel`` its directory) and keep the token list in ``config.yaml``.
"""

import argparse
import logging
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch

from espnet2.train.collate_fn import CommonCollateFn
from espnet2.utils.types import str2bool, str_or_none
from espnet_speechllm.utils.exp_lock import exp_lock
from espnet_speechllm.pretrained.safe_load import load_into, weights_only_loads


def add_token_list_argument(parser: argparse.ArgumentParser, group) -> None:
    """``--token_list`` (required, but not argparse-required so --print_config works)."""
    required = parser.get_default("required")
    required += ["token_list"]
    group.add_argument(
        "--token_list",
        type=str_or_none,
        default=None,
        help="The LLM tokenizer's tokens, one per line in id order",
    )


def add_tokenizer_arguments(group) -> None:
    """``--use_preprocessor``, ``--token_type hugging_face`` and ``--bpemodel``."""
    group.add_argument("--use_preprocessor", type=str2bool, default=True)
    group.add_argument(
        "--token_type",
        type=str,
        default="hugging_face",
        choices=["hugging_face"],
        help="Text is tokenized by the LLM's tokenizer",
    )
    group.add_argument(
        "--bpemodel",
        type=str_or_none,
        default=None,
        help="The LLM tokenizer's directory or hub id (also the decoder's "
        "tokenizer unless decoder_conf.tokenizer_name_or_path is set)",
    )


def tokenizer_path(args: argparse.Namespace) -> Optional[str]:
    """``--bpemodel``, else the decoder's tokenizer, else its LLM."""
    conf = getattr(args, "decoder_conf", {}) or {}
    return (
        args.bpemodel
        or conf.get("tokenizer_name_or_path")
        or conf.get("model_name_or_path")
    )


def read_token_list(args: argparse.Namespace) -> List[str]:
    """The tokens of ``--token_list`` (a file, or the list of a config.yaml).

    A file is read into ``args.token_list`` so that config.yaml carries the list
    and the model is portable (as ESPnet does).
    """
    if isinstance(args.token_list, str):
        try:
            with open(args.token_list, encoding="utf-8") as f:
                token_list = [line.rstrip("\n") for line in f]
        except OSError as e:
            raise FileNotFoundError(f"--token_list {args.token_list}: {e}") from e
        args.token_list = list(token_list)
    elif isinstance(args.token_list, (tuple, list)):
        token_list = list(args.token_list)
    else:
        raise RuntimeError("--token_list is required")
    logging.info(f"Vocabulary size: {len(token_list)}")
    return token_list


def check_token_count(token_list: List[str], n_tokens: int, tokenizer: Optional[str]) -> None:
    """Raise ValueError unless the token list has the tokenizer's size."""
    if len(token_list) != n_tokens:
        raise ValueError(
            f"--token_list has {len(token_list)} tokens but the LLM tokenizer "
            f"({tokenizer}) has {n_tokens}: regenerate the token list from this tokenizer"
        )


def collate_fn() -> CommonCollateFn:
    """Pads speech with 0.0 and token ids (and prompt fields) with -1."""
    return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)


class StrictLoadMixin:
    """Put before ``AbsTask``: checkpoints load strictly, and never run code.

    ``build_model_from_file`` loads the model file with ``pretrained.safe_load.load_into``
    (weights only, keys checked), and training (``main_worker``: ``--resume``,
    ``--init_param``, n-best averaging) runs inside ``weights_only_loads``.
    """

    @classmethod
    def main_worker(cls, args: argparse.Namespace) -> None:
        with weights_only_loads():
            super().main_worker(args)

    @classmethod
    def build_model_from_file(
        cls,
        config_file: Optional[Union[Path, str]] = None,
        model_file: Optional[Union[Path, str]] = None,
        device: str = "cpu",
    ) -> Tuple[torch.nn.Module, argparse.Namespace]:
        """``AbsTask.build_model_from_file``, but the checkpoint must fit the model.

        AbsTask loads with ``strict=False`` and ``weights_only=False``, which would turn
        a wrong ``model_file`` into a silently random model, and a crafted one into
        code run. Frozen pretrained weights are left out of checkpoints (frozen / LoRA
        models hold their trained parts only); the modules' load hooks drop them from
        the missing keys, as they come from the pretrained model at build time, so
        such checkpoints load.

        Args:
            config_file: config.yaml (default: next to ``model_file``).
            model_file: ``*.pth`` state dict, or None for the built model as is.
            device: ``cpu`` / ``cuda``.
        """
        if config_file is None:
            config_file = Path(model_file).parent / "config.yaml"
        model, args = super().build_model_from_file(config_file, None, device)
        if model_file is not None:
            load_into(model, model_file, map_location=device)
        return model, args


def _rank(args: argparse.Namespace) -> int:
    """This process's rank: --dist_rank, else torchrun's RANK (ESPnet reads it later)."""
    if args.dist_rank is not None:
        return int(args.dist_rank)
    return int(os.environ.get("RANK", "0"))


class ExpLockMixin:
    """Put before ``AbsTask``: a training run holds ``<output_dir>/.lock`` while it runs.

    Taken before ESPnet writes anything there (config.yaml first), so a second trainer
    on the same dir stops at once with the first one's pid (utils/exp_lock.py). Stats
    collection and ``--print_config`` take no lock; of a distributed run, the process
    of rank 0 holds it.
    """

    @classmethod
    def main(
        cls, args: Optional[argparse.Namespace] = None, cmd: Optional[Sequence[str]] = None
    ) -> None:
        if args is None:
            args = cls.get_parser().parse_args(cmd)
        if (
            args.print_config
            or args.collect_stats
            or args.output_dir is None
            or _rank(args) != 0
        ):
            return super().main(args=args)
        with exp_lock(args.output_dir):
            return super().main(args=args)
