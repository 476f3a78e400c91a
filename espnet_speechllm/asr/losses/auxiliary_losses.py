"""The optional loss terms of ESPnetSpeechLLMModel around the LLM's CE (all off by default).

- Distillation (AudioChatLlama, arXiv 2311.06753): the same LLM, frozen and given the
  transcript in the chat layout's text layout (asr/losses/teacher_pass.py), is the teacher
  of the LLM given the audio, on the response positions (asr/losses/distill_loss.py).
- Matching (arXiv 2406.17272, Sec. 3.2): cross-attention from the transcript's token
  embeddings to the projected audio, MSE + cosine (asr/losses/matching_loss.py).

::

    loss_att = ce_weight * CE + distill_weight * KL          (stats loss_att = CE, loss_kl)
    loss     = (1 - ctc_weight) * loss_att + ctc_weight * CTC     (as without these terms)
             + matching_loss_weight * loss_match             (stats loss_match, _mse, _cos)

model_conf keys: ``distill_weight``, ``distill_temperature``, ``ce_weight``,
``matching_loss_weight``, ``matching_conf: {mse_weight, cos_weight, num_heads}``.
The transcript is ``src_text`` (data file ``text``, the chat recipe's ``response`` being
``text``) for the teacher, and the CTC labels (``model_conf.ctc_target``) for matching.
"""

from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.chat_layout import ChatLayout
from espnet_speechllm.asr.compressor.functional import length_mask
from espnet_speechllm.asr.losses.distill_loss import response_kl
from espnet_speechllm.asr.losses.matching_loss import MatchingLoss
from espnet_speechllm.asr.losses.teacher_pass import pad_ids, teacher_logits
from espnet_speechllm.asr.text_checks import check_text


class AuxiliaryLosses(torch.nn.Module):
    """Distillation and matching terms, configured from model_conf.

    Args:
        llm_size: Hidden size of the LLM (the matching loss's width).
        decoder_mode: ``decoder_conf.mode`` (distillation needs ``frozen`` or ``lora``).
        chat_layout: ``model_conf.chat_layout`` (distillation needs it: the teacher's
            text layout).
        distill_weight: Weight of the KL term (0 = off: no teacher pass).
        distill_temperature: Softmax temperature T of the KL (scaled by T^2).
        ce_weight: Weight of the CE term.
        matching_loss_weight: Weight of the matching loss (0 = off: no parameters).
        matching_conf: ``MatchingLoss`` arguments (``mse_weight``, ``cos_weight``,
            ``num_heads``, ``dropout_rate``).
    """

    @typechecked
    def __init__(
        self,
        llm_size: int,
        decoder_mode: Optional[str],
        chat_layout: bool,
        distill_weight: float = 0.0,
        distill_temperature: float = 1.0,
        ce_weight: float = 1.0,
        matching_loss_weight: float = 0.0,
        matching_conf: Optional[Dict[str, Any]] = None,
    ):
        super().__init__()
        for key, value in (
            ("distill_weight", distill_weight),
            ("ce_weight", ce_weight),
            ("matching_loss_weight", matching_loss_weight),
        ):
            if value < 0:
                raise ValueError(f"model_conf.{key}={value} must be >= 0")
        if not distill_temperature > 0:
            raise ValueError(f"model_conf.distill_temperature={distill_temperature} must be > 0")
        if distill_weight > 0 and not chat_layout:
            raise ValueError(
                "model_conf.distill_weight > 0 needs model_conf.chat_layout: true (the "
                "teacher reads the transcript in the chat layout's text layout)"
            )
        if distill_weight > 0 and decoder_mode == "full":
            raise ValueError(
                "model_conf.distill_weight > 0 needs decoder_conf.mode frozen or lora: with "
                "mode full the LLM itself trains, and its frozen teacher would be a second copy"
            )
        if matching_conf and matching_loss_weight == 0:
            raise ValueError(
                "model_conf.matching_conf is set but model_conf.matching_loss_weight is 0: "
                "set a weight > 0 to use the matching loss"
            )
        self.distill_weight = distill_weight
        self.distill_temperature = distill_temperature
        self.ce_weight = ce_weight
        self.matching_loss_weight = matching_loss_weight
        self.matching = (
            MatchingLoss(llm_size, **(matching_conf or {})) if matching_loss_weight > 0 else None
        )

    def response_loss(
        self,
        loss_ce: torch.Tensor,
        logits: torch.Tensor,
        decoder,
        layout: Optional[ChatLayout],
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        kwargs: Dict,
        fields: Optional[Sequence[Dict[str, str]]],
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """``ce_weight * CE + distill_weight * KL`` and its stats (``loss_kl``).

        Args:
            loss_ce: The student's CE (scalar).
            logits: The student's logits of ``text + [eot]`` (B, L + 1, V).
            decoder: The model's decoder (the teacher is its pass without adapters).
            layout: The chat layout (None when distillation is off).
            text: The response ids, padded with -1 (B, L); unmasked.
            text_lengths: (B,)
            kwargs: The forward()'s kwargs: ``src_text`` / ``src_text_lengths``, ``utt_id``.
            fields: Per-utterance chat fields (instruction, history) of the batch.
        """
        if self.distill_weight == 0:
            return self.ce_weight * loss_ce, {}
        src = kwargs.get("src_text")
        if src is None:
            raise ValueError(
                "model_conf.distill_weight > 0 but the batch has no 'src_text' (the teacher's "
                "transcript): give --train_data_path_and_name_and_type .../text,src_text,text "
                "(and the responses as .../response,text,text)"
            )
        check_text(src, kwargs["src_text_lengths"], decoder.vocab_size, kwargs.get("utt_id"))
        tok = decoder.tokenizer
        transcripts = [
            tok.decode(row[:n]).strip()
            for row, n in zip(src.tolist(), kwargs["src_text_lengths"].tolist())
        ]
        ids = layout.batch_text_ids(transcripts, fields, kwargs.get("utt_id"))
        prefix, prefix_lens = pad_ids(ids, text.device)
        teacher, _ = teacher_logits(decoder, prefix, prefix_lens, text, text_lengths)
        mask = length_mask(text_lengths + 1, logits.size(1))  # the response + eot
        loss_kl = response_kl(logits, teacher, mask, self.distill_temperature)
        loss = self.ce_weight * loss_ce + self.distill_weight * loss_kl
        return loss, {"loss_kl": loss_kl.detach()}

    def matching_term(
        self,
        audio: torch.Tensor,
        audio_lens: torch.Tensor,
        text_emb: torch.Tensor,
        text_lengths: torch.Tensor,
    ) -> Tuple[Optional[torch.Tensor], Dict[str, torch.Tensor]]:
        """``matching_loss_weight * loss_match`` (None when off) and its stats.

        Args:
            audio: Projected audio embeddings (B, T', H).
            audio_lens: (B,)
            text_emb: LLM input embeddings of the transcript (B, L, H).
            text_lengths: (B,)
        """
        if self.matching is None:
            return None, {}
        loss, stats = self.matching(audio, audio_lens, text_emb, text_lengths)
        return self.matching_loss_weight * loss, stats
