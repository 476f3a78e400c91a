"""CausalLMTask: ESPnet's AbsTask for training an HF causal LM on text.

Recipe stage 7 trains a small LLM from scratch with this task; stage 8 exports
it (``espnet_speechllm.llm.export_lm``) to a plain HF directory that the
speech task loads like any pretrained LLM.
"""

import argparse
from typing import Callable, Collection, Dict, List, Optional, Tuple

import numpy as np
import torch
from typeguard import typechecked

from espnet2.tasks.abs_task import AbsTask
from espnet2.train.class_choices import ClassChoices
from espnet2.train.preprocessor import CommonPreprocessor
from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from espnet_speechllm.lm.espnet_model import ESPnetCausalLMModel
from espnet_speechllm.tasks.common import (
    StrictLoadMixin,
    add_token_list_argument,
    add_tokenizer_arguments,
    check_token_count,
    collate_fn,
    read_token_list,
    tokenizer_path,
)
from espnet_speechllm.train.resume_trainer import ResumeTrainer

decoder_choices = ClassChoices(
    "decoder",
    classes=dict(hf_llm=HFLLMDecoder),
    type_check=HFLLMDecoder,  # ESPnetCausalLMModel takes an HFLLMDecoder
    default="hf_llm",
)
model_choices = ClassChoices(
    "model",
    classes=dict(causal_lm=ESPnetCausalLMModel),
    type_check=ESPnetCausalLMModel,
    default="causal_lm",
)


class CausalLMTask(StrictLoadMixin, AbsTask):
    """Text in, next-token loss out. Text is tokenized with the LLM's tokenizer.

    NOTE: ESPnet's ``hugging_face`` token path (``tokenizer.tokenize`` then
    ``convert_tokens_to_ids``) gives the same ids as
    ``tokenizer(text, add_special_tokens=False)`` for the byte-level BPE of
    ``llm.train_tokenizer`` (checked in the tests), so ESPnet's
    CommonPreprocessor is used as is.
    """

    num_optimizers: int = 1
    class_choices_list = [decoder_choices, model_choices]
    trainer = ResumeTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        add_token_list_argument(parser, parser.add_argument_group(description="Task related"))
        group = parser.add_argument_group(description="Preprocess related")
        add_tokenizer_arguments(group)
        for class_choices in cls.class_choices_list:
            class_choices.add_arguments(group)

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable[
        [Collection[Tuple[str, Dict[str, np.ndarray]]]],
        Tuple[List[str], Dict[str, torch.Tensor]],
    ]:
        return collate_fn()

    @classmethod
    @typechecked
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.array]], Dict[str, np.ndarray]]]:
        if not args.use_preprocessor:
            return None
        return CommonPreprocessor(
            train=train,
            token_type=args.token_type,
            token_list=args.token_list,
            bpemodel=tokenizer_path(args),
        )

    @classmethod
    def required_data_names(
        cls, train: bool = True, inference: bool = False
    ) -> Tuple[str, ...]:
        return ("text",)

    @classmethod
    def optional_data_names(
        cls, train: bool = True, inference: bool = False
    ) -> Tuple[str, ...]:
        return ()

    @classmethod
    @typechecked
    def build_model(cls, args: argparse.Namespace) -> ESPnetCausalLMModel:
        token_list = read_token_list(args)
        conf = dict(args.decoder_conf)
        conf.setdefault("mode", "full")
        if conf["mode"] != "full":
            raise ValueError(
                f"decoder_conf.mode={conf['mode']!r}: LM training updates the whole "
                "LLM, set it to full"
            )
        given = conf.get("tokenizer_name_or_path")
        if given is not None and args.bpemodel and given != args.bpemodel:
            # The preprocessor would tokenize with one, the model decode with another.
            raise ValueError(
                f"--bpemodel {args.bpemodel} and decoder_conf.tokenizer_name_or_path "
                f"{given} differ: set only --bpemodel"
            )
        if given is None and args.bpemodel:
            conf["tokenizer_name_or_path"] = args.bpemodel
        _check_token_list(token_list, tokenizer_path(args), conf)
        if conf.get("config") is not None:
            conf["config"] = dict(conf["config"])
            conf["config"].setdefault("vocab_size", len(token_list))
        # Written back so that config.yaml alone rebuilds the model.
        args.decoder_conf = conf

        decoder = decoder_choices.get_class(args.decoder)(**conf)
        return model_choices.get_class(args.model)(decoder=decoder, **args.model_conf)


def _check_token_list(token_list: List[str], tok_path: Optional[str], conf: dict):
    """Compare before the LLM is built: its vocab_size may come from the list."""
    from transformers import AutoTokenizer

    if tok_path is None:
        raise ValueError("Give --bpemodel (the tokenizer directory)")
    local = conf.get("local_files_only", True)
    n_tok = len(AutoTokenizer.from_pretrained(tok_path, local_files_only=local))
    check_token_count(token_list, n_tok, tok_path)
