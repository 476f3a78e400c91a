"""ESPnetSpeechLLMModel: speech -> encoder -> compressor -> projector -> causal LLM."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from typeguard import typechecked

from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel
from espnet_speechllm.asr.chat_layout import build_chat_layout
from espnet_speechllm.asr.losses.auxiliary_losses import AuxiliaryLosses
from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.decoder.abs_llm_decoder import AbsLLMDecoder
from espnet_speechllm.asr.ctc_embedding import check_ctc_embedding, ctc_token_embedding
from espnet_speechllm.asr.decoding_input import DecodingInput
from espnet_speechllm.asr.encoder_mode import set_encoder_mode
from espnet_speechllm.asr.prompt_fields import fields_of
from espnet_speechllm.asr.prompt_template import PromptTemplate
from espnet_speechllm.asr.speech_encoder_mixin import SpeechEncoderMixin
from espnet_speechllm.asr.streaming_mixin import StreamingMixin
from espnet_speechllm.asr.text_checks import check_text
from espnet_speechllm.utils.low_precision import autocast_dtype

IGNORE_ID = -1


class ESPnetSpeechLLMModel(SpeechEncoderMixin, StreamingMixin, AbsESPnetModel):
    """Speech-LLM trained with next-token CE on the text (+ CTC from the compressor).

    The LLM input of one utterance (p/q: prompt before/after the audio, a: audio, t: text)::

        input    p p p a a a a q t t t _ _
        target   . . . . . . . t t t E        (E = eos; '.' is ignored)

    ``p..q`` has its own length per utterance; the decoder packs prefix and text, masks padding.

    Public API: ``forward``, ``prepare_decoding`` (what ``decoder.generate`` reads), its
    steps ``encode`` / ``to_llm_space`` (compressor + ``project``) / ``build_prefix``,
    ``max_audio_positions``, ``SpeechEncoderMixin``'s ``encode_batch``, ``encode_frames``,
    ``min_input_samples``, ``max_encoded_frames``; ``StreamingMixin``'s ``encode_chunk``.
    ``loss_summed_over_batch`` (set for ESPnet's DeepSpeedTrainer): a summed loss.

    Args:
        vocab_size: Size of the token list (the LLM tokenizer's).
        token_list: Tokens in id order.
        frontend, specaug, normalize, encoder: ESPnet modules (as in ASR).
        compressor: Shortens the encoder output (e.g. CTC compression).
        projector: Maps compressed frames to the LLM's hidden size.
        decoder: The LLM.
        prompt: One instruction, or a list sampled per utterance in training.
        eval_prompt: Instruction used at decoding (default: the first prompt).
        prompt_template: Text with ``{audio}`` and optionally ``{prompt}``.
        use_chat_template: Render the prompt through the tokenizer's chat template.
        ctc_weight: Weight of the compressor's auxiliary loss (CTC).
        lsm_weight: Label smoothing of the LLM loss.
        text_mask_prob: In training, replace this fraction of the LLM's input text
            tokens (not targets) by random ones (arXiv 2307.11795): it must read the audio.
        ctc_embedding: Add to each audio embedding the LLM token embeddings weighted by
            the CTC posteriors of its segment (asr/ctc_embedding.py). Needs ``compressor: ctc``.
        ctc_target: What the compressor's CTC learns: ``text`` (the LLM target) or
            ``src_text`` (the source transcript, a data file ``text.src``: speech
            translation, whose target is not monotonic with the audio).
        encoder_mode: ``frozen`` | ``lora`` | ``full`` training of the encoder
            (the twin of ``decoder_conf.mode``; see asr/encoder_mode.py).
        encoder_lora_conf: peft LoRA fields for ``encoder_mode: lora``.
        encoder_autocast: ``torch.autocast`` dtype of the encoder (``bfloat16`` /
            ``float16``; None = off) on any device, output in float32 (ESPnet's ``--use_amp``
            is CUDA-only); a CPU without native bf16 runs fp32 (with a warning).
        chat_layout: Put the audio in the user turn of the LLM's own chat template
            (asr/chat_layout.py, AudioChatLlama) instead of ``prompt_template``; the
            target then ends with the template's end of turn (``model.eos``).
        system_prompt, instruction, instruction_position: The chat layout's system
            turn, default instruction and its place (``before`` / ``after`` the audio);
            per-utterance ``instruction`` / ``history`` data files override.
        distill_weight, distill_temperature, ce_weight, matching_loss_weight,
            matching_conf: The optional loss terms (asr/losses/auxiliary_losses.py).
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        token_list: Union[Tuple[str, ...], List[str]],
        frontend: Optional[AbsFrontend],
        specaug: Optional[AbsSpecAug],
        normalize: Optional[AbsNormalize],
        encoder: AbsEncoder,
        compressor: AbsCompressor,
        projector: AbsProjector,
        decoder: AbsLLMDecoder,
        prompt: Union[str, List[str]] = "Transcribe the audio:",
        eval_prompt: Optional[str] = None,
        prompt_template: str = "{prompt}{audio}",
        use_chat_template: bool = False,
        ctc_weight: float = 0.3,
        lsm_weight: float = 0.0,
        text_mask_prob: float = 0.0,
        ctc_embedding: bool = False,
        ctc_target: str = "text",
        encoder_mode: str = "full",
        encoder_lora_conf: Optional[Dict[str, Any]] = None,
        encoder_autocast: Optional[str] = None,
        extract_feats_in_collect_stats: bool = True,
        chat_layout: bool = False,
        system_prompt: Optional[str] = None,
        instruction: Optional[str] = None,
        instruction_position: str = "before",
        distill_weight: float = 0.0,
        distill_temperature: float = 1.0,
        ce_weight: float = 1.0,
        matching_loss_weight: float = 0.0,
        matching_conf: Optional[Dict[str, Any]] = None,
    ):
        super().__init__()
        if not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"model_conf.ctc_weight={ctc_weight} must be in [0, 1]")
        if not 0.0 <= text_mask_prob < 1.0:
            raise ValueError(f"model_conf.text_mask_prob={text_mask_prob} must be in [0, 1)")
        self.text_mask_prob = text_mask_prob
        if ctc_embedding:
            check_ctc_embedding(compressor, projector)
        self.ctc_embedding = ctc_embedding
        if ctc_target not in ("text", "src_text"):
            raise ValueError(
                f"model_conf.ctc_target={ctc_target!r} must be 'text' or 'src_text'"
            )
        self.ctc_target = ctc_target
        self.vocab_size = vocab_size
        self.token_list = list(token_list)
        self.frontend = frontend
        self.specaug = specaug
        self.normalize = normalize
        self.encoder = encoder
        set_encoder_mode(encoder, encoder_mode, encoder_lora_conf)
        self.compressor = compressor
        self.projector = projector
        self.decoder = decoder
        self.ctc_weight = ctc_weight
        self.lsm_weight = lsm_weight
        self.extract_feats_in_collect_stats = extract_feats_in_collect_stats
        # Set by SpeechLLMTask under ESPnet's DeepSpeedTrainer: it divides the training
        # loss by the batch's utterance count (its models return sums), where ESPnet's
        # Trainer weights each process's mean by that count.
        self.loss_summed_over_batch = False
        self.encoder_autocast = autocast_dtype(encoder_autocast, "model_conf.encoder_autocast")
        self.prompt = PromptTemplate(
            decoder.tokenizer,
            [prompt] if isinstance(prompt, str) else prompt,
            eval_prompt=eval_prompt,
            template=prompt_template,
            use_chat_template=use_chat_template,
        )
        self.layout = build_chat_layout(
            decoder.tokenizer, chat_layout, system_prompt, instruction, instruction_position
        )
        self.aux = AuxiliaryLosses(
            decoder.output_size(),
            getattr(decoder, "mode", None),
            chat_layout,
            distill_weight=distill_weight,
            distill_temperature=distill_temperature,
            ce_weight=ce_weight,
            matching_loss_weight=matching_loss_weight,
            matching_conf=matching_conf,
        )

    @property
    def eos(self) -> int:
        """The token every target ends with: the chat layout's end of turn, else eos."""
        return self.layout.eot if self.layout is not None else self.decoder.eos

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Loss of one batch.

        Args:
            speech: Waveforms (B, S) (or features (B, T, F) without frontend).
            speech_lengths: (B,)
            text: LLM token ids padded with -1 (B, L).
            text_lengths: (B,); 0 is allowed: the target is then just eos.
            kwargs: ``utt_id`` (list of keys, passed by ESPnet's Trainer) names
                the utterance in input errors; ``src_text`` / ``src_text_lengths``
                (B, L_src) for ``ctc_target: src_text`` and the teacher of
                ``distill_weight``; ``lang``, ``instruction``, ``history`` (code points,
                see asr/prompt_fields.py) fill the prompts / the chat turn.
        Returns:
            loss, stats (loss, loss_att, loss_ctc, acc, compression_ratio,
            prefix_length, prefix_ratio; loss_kl, loss_match* when on), weight.
        """
        utt_id = kwargs.get("utt_id")
        check_text(text, text_lengths, self.decoder.vocab_size, utt_id)
        text = text[:, : int(text_lengths.max())] if text.size(1) else text
        feats, feats_lens = self._extract_feats(speech, speech_lengths)
        enc, enc_lens = self._encode_feats(feats, feats_lens)
        audio, audio_lens = self.to_llm_space(enc, enc_lens)
        fields = fields_of(kwargs)
        prefix, prefix_lens = self.build_prefix(
            audio, audio_lens, self.training, fields=fields, utt_id=utt_id
        )
        logits, _ = self.decoder(prefix, prefix_lens, self._mask_text(text), text_lengths)

        target = _append_eos(text, text_lengths, self.eos)  # (B, L + 1)
        loss_att = F.cross_entropy(
            logits.transpose(1, 2).float(),
            target,
            ignore_index=IGNORE_ID,
            label_smoothing=self.lsm_weight,
        )
        valid = target != IGNORE_ID
        acc = (logits.argmax(-1) == target)[valid].float().mean()

        stats = dict(loss_att=loss_att.detach(), acc=acc.detach())
        loss_att, aux_stats = self.aux.response_loss(
            loss_att, logits, self.decoder, self.layout, text, text_lengths, kwargs, fields
        )
        stats.update(aux_stats)
        loss = loss_att
        if self.ctc_weight > 0:
            ctc_ys, ctc_lens = self._ctc_target(text, text_lengths, kwargs)
            loss_ctc = self.compressor.aux_loss(enc, enc_lens, ctc_ys, ctc_lens)
            if loss_ctc is not None:
                loss = (1 - self.ctc_weight) * loss_att + self.ctc_weight * loss_ctc
                stats["loss_ctc"] = loss_ctc.detach()
        if self.aux.matching is not None:
            loss = loss + self._matching_loss(audio, audio_lens, text, text_lengths, kwargs, stats)
        # Input frames (after the frontend) per LLM audio position, per utterance.
        ratio = feats_lens.float() / audio_lens.clamp(min=1).float()
        stats["compression_ratio"] = ratio.mean().detach()
        stats["prefix_length"] = prefix_lens.float().mean().detach()
        # Input frames per LLM prefix position (prompt included): the CTC
        # compressor's effect on what the LLM reads, mean over utterances.
        stats["prefix_ratio"] = (feats_lens.float() / prefix_lens.float()).mean().detach()
        stats["loss"] = loss.detach()
        batch_size = speech.size(0)
        if self.loss_summed_over_batch and self.training:
            loss = loss * batch_size
        loss, stats, weight = force_gatherable((loss, stats, batch_size), loss.device)
        return loss, stats, weight

    def _ctc_target(
        self, text: torch.Tensor, text_lengths: torch.Tensor, kwargs: Dict
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The CTC labels: the LLM target, or the source transcript.  (B, L), (B,)"""
        if self.ctc_target == "text":
            return text, text_lengths
        if kwargs.get("src_text") is None:
            raise ValueError(
                "model_conf.ctc_target=src_text but the batch has no 'src_text': "
                "give --train_data_path_and_name_and_type .../text.src,src_text,text"
            )
        src, src_lens = kwargs["src_text"], kwargs["src_text_lengths"]
        check_text(src, src_lens, self.decoder.vocab_size, kwargs.get("utt_id"))
        return src[:, : int(src_lens.max())] if src.size(1) else src, src_lens

    def _matching_loss(self, audio, audio_lens, text, text_lengths, kwargs, stats) -> torch.Tensor:
        """Weighted matching loss of the audio against the transcript (the CTC labels)."""
        ys, ys_lens = self._ctc_target(text, text_lengths, kwargs)
        loss, match_stats = self.aux.matching_term(audio, audio_lens, self.decoder.embed(ys), ys_lens)
        stats.update(match_stats)
        return loss

    def _mask_text(self, text: torch.Tensor) -> torch.Tensor:
        """Text-token masking of the LLM input.  (B, L) -> (B, L)"""
        if not self.training or self.text_mask_prob == 0.0:
            return text
        # Random real tokens rather than a mask id: not every LLM has one.
        hit = (torch.rand(text.shape, device=text.device) < self.text_mask_prob) & (text >= 0)
        noise = torch.randint_like(text, self.decoder.vocab_size)
        return torch.where(hit, noise, text)

    def collect_feats(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: Optional[torch.Tensor] = None,
        text_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        feats, feats_lengths = self._extract_feats(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}

    def encode(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Audio embeddings in the LLM's space.  ``(B, S) -> (B, T', D_llm), (B,)``"""
        return self.to_llm_space(*self.encode_frames(speech, speech_lengths))

    def prepare_decoding(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        prompts: Optional[Sequence[Tuple[List[int], List[int]]]] = None,
        fields: Optional[Sequence[Dict[str, str]]] = None,
        ctc: bool = False,
    ) -> DecodingInput:
        """What ``decoder.generate`` reads, each utterance as if decoded alone.

        Args:
            speech: Waveforms (B, S), right padded.
            speech_lengths: (B,)
            prompts: ``(pre_ids, post_ids)`` per utterance (default: the eval prompt).
            fields: Per utterance, values of the prompts' ``{name}`` fields.
            ctc: Also give the CTC head's log posteriors (joint CTC/LLM decoding).
        Returns:
            DecodingInput: prefix (B, P, D), prefix_lens, audio_lens, enc_lens (B,),
            ctc_logp (B tensors (T_b, V + 1)) or None.
        """
        head = self.compressor.ctc_head
        if ctc and head is None:
            raise ValueError(
                f"CTC posteriors need a CTC head (compressor: ctc), this model's "
                f"compressor is {type(self.compressor).__name__}"
            )
        enc, enc_lens = self.encode_frames(speech, speech_lengths)
        audio, audio_lens = self.to_llm_space(enc, enc_lens)
        prefix, prefix_lens = self.build_prefix(
            audio, audio_lens, train=False, prompts=prompts, fields=fields
        )
        ctc_logp = None
        if ctc:
            logp = head.log_softmax(enc)  # (B, T, V + 1)
            ctc_logp = [logp[b, :n] for b, n in enumerate(enc_lens.tolist())]
        return DecodingInput(prefix, prefix_lens, audio_lens, enc_lens, ctc_logp)

    def max_audio_positions(self, n_samples: int) -> int:
        """Most LLM audio positions ``n_samples`` of audio can take, known before encoding:
        ``max_encoded_frames`` through the compressor's and projector's
        ``max_output_length`` (a CTC compressor at worst merges no frame)."""
        n = self.compressor.max_output_length(self.max_encoded_frames(n_samples))
        return self.projector.max_output_length(n)

    def build_prefix(
        self,
        audio: torch.Tensor,
        audio_lens: torch.Tensor,
        train: bool,
        prompts: Optional[Sequence[Tuple[List[int], List[int]]]] = None,
        fields: Optional[Sequence[Dict[str, str]]] = None,
        utt_id: Optional[Sequence[str]] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``[pre | audio | post]`` per utterance, right padded.

        Args:
            audio: Audio embeddings (B, T', D).
            audio_lens: (B,)
            train: Sample prompts from the list (else use the eval prompt).
            prompts: Explicit ``(pre_ids, post_ids)`` per utterance.
            fields: Per utterance, values of the prompts' ``{name}`` fields.
            utt_id: Names the utterance in errors.
        Returns:
            prefix (B, P, D), prefix_lens (B,).
        """
        bsz = audio.size(0)
        if prompts is None and self.layout is not None:
            prompts = self.layout.batch_audio_ids(bsz, fields, utt_id)
        elif prompts is None:
            prompts = self.prompt.sample(bsz, train, fields=fields, utt_id=utt_id)
        if len(prompts) != bsz:
            raise ValueError(f"{len(prompts)} prompts for a batch of {bsz}")
        pieces = []
        for b, (pre, post) in enumerate(prompts):
            ids = torch.tensor(pre + post, dtype=torch.long, device=audio.device)
            emb = self.decoder.embed(ids).to(audio.dtype)  # (len(pre)+len(post), D)
            pieces.append(
                torch.cat([emb[: len(pre)], audio[b, : audio_lens[b]], emb[len(pre) :]])
            )
        lens = torch.tensor([p.size(0) for p in pieces], device=audio.device)
        return torch.nn.utils.rnn.pad_sequence(pieces, batch_first=True), lens

    def to_llm_space(
        self, enc: torch.Tensor, enc_lens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Compress and project encoder states.  ``(B, T, D_enc) -> (B, T', D_llm), (B,)``"""
        return self.project(*self.compressor(enc, enc_lens))

    def project(self, comp: torch.Tensor, comp_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Compressed states into the LLM's space.  ``(B, T', D) -> (B, T'', D_llm), (B,)``"""
        audio, audio_lens = self.projector(comp, comp_lens)
        if self.ctc_embedding:
            audio = audio + ctc_token_embedding(self.compressor.ctc_head, self.decoder, comp).to(audio.dtype)
        return audio, audio_lens


def _append_eos(ys: torch.Tensor, ys_lens: torch.Tensor, eos: int) -> torch.Tensor:
    """``[y1..yn, eos]`` padded with IGNORE_ID.  ``(B, L) -> (B, L + 1)``"""
    out = F.pad(ys, (0, 1), value=IGNORE_ID)
    out[torch.arange(ys.size(0), device=ys.device), ys_lens] = eos
    return out
