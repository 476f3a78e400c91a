"""SpeechLLMTask: ESPnet's AbsTask for speech -> LLM models (ASR, ST, spoken QA)."""

import argparse
import inspect
from typing import Callable, Collection, Dict, List, Optional, Tuple

import numpy as np
import torch
from typeguard import typechecked

from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.frontend.default import DefaultFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.asr.specaug.specaug import SpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.layers.global_mvn import GlobalMVN
from espnet2.layers.utterance_mvn import UtteranceMVN
from espnet2.tasks.abs_task import AbsTask
from espnet2.torch_utils.initialize import initialize
from espnet2.train.class_choices import ClassChoices
from espnet2.utils.types import float_or_none, int_or_none, str_or_none
from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.projector.conv1d_mlp_projector import Conv1dMLPProjector
from espnet_speechllm.asr.projector.conv1d_transformer_projector import Conv1dTransformerProjector
from espnet_speechllm.asr.projector.dws_mlp_projector import DwsMLPProjector
from espnet_speechllm.asr.projector.linear_projector import LinearProjector
from espnet_speechllm.asr.projector.mlp_projector import MLPProjector
from espnet_speechllm.asr.projector.transformer_projector import TransformerProjector
from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor
from espnet_speechllm.asr.compressor.ctc_compressor import CTCCompressor
from espnet_speechllm.asr.compressor.identity_compressor import IdentityCompressor
from espnet_speechllm.asr.compressor.stack_compressor import StackCompressor
from espnet_speechllm.asr.decoder.abs_llm_decoder import AbsLLMDecoder
from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from espnet_speechllm.asr.encoder.contextual_block_conformer_encoder import (
    ContextualBlockConformerEncoder,
)
from espnet_speechllm.asr.encoder.hf_whisper_encoder import HFWhisperEncoder
from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel
from espnet_speechllm.asr.prompt_fields import FIELD_NAMES
from espnet_speechllm.tasks.common import (
    ExpLockMixin,
    StrictLoadMixin,
    add_token_list_argument,
    add_tokenizer_arguments,
    check_token_count,
    collate_fn,
    read_token_list,
    tokenizer_path,
)
from espnet_speechllm.train.checked_trainer import CheckedTrainer
from espnet_speechllm.train.speechllm_preprocessor import SpeechLLMPreprocessor

frontend_choices = ClassChoices(
    "frontend",
    classes=dict(default=DefaultFrontend),
    type_check=AbsFrontend,
    default="default",
    optional=True,
)
specaug_choices = ClassChoices(
    "specaug",
    classes=dict(specaug=SpecAug),
    type_check=AbsSpecAug,
    default=None,
    optional=True,
)
normalize_choices = ClassChoices(
    "normalize",
    classes=dict(global_mvn=GlobalMVN, utterance_mvn=UtteranceMVN),
    type_check=AbsNormalize,
    default="utterance_mvn",
    optional=True,
)
encoder_choices = ClassChoices(
    "encoder",
    classes=dict(
        conformer=ConformerEncoder,
        transformer=TransformerEncoder,
        e_branchformer=EBranchformerEncoder,
        hf_whisper=HFWhisperEncoder,
        # Streaming (blockwise) conformer: speech2text_llm_streaming.py decodes it online.
        contextual_block_conformer=ContextualBlockConformerEncoder,
    ),
    type_check=AbsEncoder,
    default="conformer",
)
compressor_choices = ClassChoices(
    "compressor",
    classes=dict(
        identity=IdentityCompressor,
        stack=StackCompressor,
        conv=ConvCompressor,
        ctc=CTCCompressor,
    ),
    type_check=AbsCompressor,
    # ESPnet reserves the key "none": `compressor: none` selects IdentityCompressor.
    default=None,
    optional=True,
)
projector_choices = ClassChoices(
    "projector",
    classes=dict(
        linear=LinearProjector, mlp=MLPProjector, transformer=TransformerProjector,
        conv1d_mlp=Conv1dMLPProjector,
        dws_mlp=DwsMLPProjector,
        conv1d_transformer=Conv1dTransformerProjector,
    ),
    type_check=AbsProjector,
    default="linear",
)
decoder_choices = ClassChoices(
    "decoder",
    classes=dict(hf_llm=HFLLMDecoder),
    type_check=AbsLLMDecoder,
    default="hf_llm",
)
model_choices = ClassChoices(
    "model",
    classes=dict(speechllm=ESPnetSpeechLLMModel),
    type_check=ESPnetSpeechLLMModel,
    default="speechllm",
)


class SpeechLLMTask(ExpLockMixin, StrictLoadMixin, AbsTask):
    """Speech in, LLM text out. Text is tokenized with the LLM's own tokenizer."""

    num_optimizers: int = 1
    class_choices_list = [
        frontend_choices,
        specaug_choices,
        normalize_choices,
        encoder_choices,
        compressor_choices,
        projector_choices,
        decoder_choices,
        model_choices,
    ]
    trainer = CheckedTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="Task related")
        add_token_list_argument(parser, group)
        group.add_argument(
            "--init",
            type=lambda x: str_or_none(x.lower()),
            default=None,
            choices=["xavier_uniform", "xavier_normal", "kaiming_uniform", None],
            help="Initialization of the non-LLM parts (keep none for pretrained parts)",
        )
        group.add_argument(
            "--input_size",
            type=int_or_none,
            default=None,
            help="Input feature dimension when there is no frontend",
        )

        group = parser.add_argument_group(description="Preprocess related")
        add_tokenizer_arguments(group)
        group.add_argument(
            "--cleaner",
            type=str_or_none,
            default=None,
            choices=[None, "tacotron", "jaconv", "vietnamese", "whisper_en"],
        )
        group.add_argument("--rir_scp", type=str_or_none, default=None)
        group.add_argument("--rir_apply_prob", type=float, default=1.0)
        group.add_argument("--noise_scp", type=str_or_none, default=None)
        group.add_argument("--noise_apply_prob", type=float, default=1.0)
        group.add_argument("--noise_db_range", type=str, default="13_15")
        group.add_argument("--short_noise_thres", type=float, default=0.5)
        group.add_argument("--speech_pad_range", type=str_or_none, default=None,
                           help="'<min>_<max>' s of room-like silence before and after training speech")
        group.add_argument("--speech_pad_apply_prob", type=float, default=1.0)
        group.add_argument("--fs", type=int, default=16000, help="Sample rate of the speech (speech_pad_range)")
        group.add_argument(
            "--speech_volume_normalize", type=float_or_none, default=None
        )
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
        # text + src_text tokenized by the LLM tokenizer; FIELD_NAMES as strings.
        return SpeechLLMPreprocessor(
            train=train,
            token_type=args.token_type,
            token_list=args.token_list,
            bpemodel=tokenizer_path(args),
            text_cleaner=args.cleaner,
            rir_scp=args.rir_scp,
            rir_apply_prob=args.rir_apply_prob,
            noise_scp=args.noise_scp,
            noise_apply_prob=args.noise_apply_prob,
            noise_db_range=args.noise_db_range,
            short_noise_thres=args.short_noise_thres,
            # getattr: the config.yaml of a model trained before these options lacks them
            speech_pad_range=getattr(args, "speech_pad_range", None),
            speech_pad_apply_prob=getattr(args, "speech_pad_apply_prob", 1.0),
            fs=getattr(args, "fs", 16000),
            speech_volume_normalize=args.speech_volume_normalize,
        )

    @classmethod
    def required_data_names(
        cls, train: bool = True, inference: bool = False
    ) -> Tuple[str, ...]:
        return ("speech",) if inference else ("speech", "text")

    @classmethod
    def optional_data_names(
        cls, train: bool = True, inference: bool = False
    ) -> Tuple[str, ...]:
        # src_text: CTC labels of speech translation; FIELD_NAMES: lang (the {lang}
        # prompt field), instruction and history (the chat layout's per-utterance turns),
        # which decoding reads too.
        return FIELD_NAMES if inference else ("src_text",) + FIELD_NAMES

    @classmethod
    @typechecked
    def build_model(cls, args: argparse.Namespace) -> ESPnetSpeechLLMModel:
        token_list = read_token_list(args)

        if args.input_size is None:
            frontend_class = frontend_choices.get_class(args.frontend)
            frontend = frontend_class(**args.frontend_conf)
            input_size = frontend.output_size()
        else:
            args.frontend, args.frontend_conf, frontend = None, {}, None
            input_size = args.input_size
        specaug = _optional(specaug_choices, args.specaug, args.specaug_conf)
        normalize = _optional(normalize_choices, args.normalize, args.normalize_conf)

        encoder_class = encoder_choices.get_class(args.encoder)
        encoder = encoder_class(input_size=input_size, **args.encoder_conf)

        decoder_conf = dict(args.decoder_conf)
        if decoder_conf.get("tokenizer_name_or_path") is None and args.bpemodel:
            decoder_conf["tokenizer_name_or_path"] = args.bpemodel
        decoder = decoder_choices.get_class(args.decoder)(**decoder_conf)
        check_token_count(
            token_list,
            len(decoder.tokenizer),
            decoder_conf.get("tokenizer_name_or_path") or decoder_conf.get("model_name_or_path"),
        )

        compressor_class = compressor_choices.get_class(args.compressor or "identity")
        compressor_conf = dict(args.compressor_conf)
        if "vocab_size" in inspect.signature(compressor_class).parameters:
            compressor_conf.setdefault("vocab_size", decoder.vocab_size)
        compressor = compressor_class(encoder.output_size(), **compressor_conf)

        projector = projector_choices.get_class(args.projector)(
            compressor.output_size(), decoder.output_size(), **args.projector_conf
        )

        model = model_choices.get_class(args.model)(
            vocab_size=len(token_list),
            token_list=token_list,
            frontend=frontend,
            specaug=specaug,
            normalize=normalize,
            encoder=encoder,
            compressor=compressor,
            projector=projector,
            decoder=decoder,
            **args.model_conf,
        )
        if args.init is not None:
            # NOTE: re-initialising would wipe pretrained parts; only the speech
            # side is touched.
            for part in (encoder, compressor, projector):
                initialize(part, args.init)
        # ESPnet trains with its DeepSpeedTrainer only when distributed (else Trainer).
        model.loss_summed_over_batch = bool(
            getattr(args, "use_deepspeed", False) and getattr(args, "distributed", False)
        )
        return model


def _optional(choices: ClassChoices, name: Optional[str], conf: dict):
    if name is None:
        return None
    return choices.get_class(name)(**conf)

