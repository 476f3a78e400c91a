"""The distillation term of AudioChatLlama (arXiv 2311.06753): KL on the response positions.

The student is the LLM given the audio, the teacher the same frozen LLM given the transcript
(asr/losses/teacher_pass.py); both are teacher-forced on the same response, so position i of
one predicts the same token as position i of the other, whatever their prefixes' lengths.

Integration (``ESPnetSpeechLLMModel.forward``; model_conf keys ``distill_weight`` (0 = off,
the default: no teacher pass), ``distill_temperature`` (T, default 1) and ``ce_weight``
(default 1)), right after the student's logits and before the CTC mix::

    logits, _ = self.decoder(prefix, prefix_lens, self._mask_text(text), text_lengths)
    loss_ce = F.cross_entropy(...)                                  # as now: (B, L+1, V)
    if self.distill_weight > 0:
        tok = self.decoder.tokenizer
        src = [tok.decode(r[:n]) for r, n in zip(src_text.tolist(), src_text_lengths.tolist())]
        ids, lens = pad_ids(self.layout.batch_text_ids(src, fields, utt_id), text.device)
        teacher, _ = teacher_logits(self.decoder, ids, lens, text, text_lengths)
        mask = padding_mask(text_lengths + 1, logits.size(1)).bool()  # response + eot
        loss_kl = response_kl(logits, teacher, mask, self.distill_temperature)
        loss_att = self.ce_weight * loss_ce + self.distill_weight * loss_kl
        stats["loss_kl"] = loss_kl.detach()

``text`` is the response (data file ``response``), ``src_text`` the transcript (data file
``text``); the teacher reads the unmasked ``text`` (text-token masking is the student's).
Refuse ``distill_weight > 0`` without ``chat_layout`` or without ``src_text`` in the batch,
naming the key and the data file, as ``_ctc_target`` does.
"""

import torch
import torch.nn.functional as F


def response_kl(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Mean over the masked positions of ``T^2 KL(softmax(t / T) || softmax(s / T))``.

    The teacher is detached: the gradient goes into the student only. Computed in
    float32. ``T^2`` keeps the gradient's scale independent of ``T`` (Hinton et al.).

    Args:
        student_logits: (B, L, V)
        teacher_logits: (B, L, V)
        mask: (B, L) bool, True on the response positions that count.
        temperature: T > 0.
    Returns:
        Scalar; 0 (still in the student's graph) when the mask is empty.

    >>> s = torch.zeros(1, 2, 3); response_kl(s, s, torch.ones(1, 2, dtype=torch.bool))
    tensor(0.)
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student {tuple(student_logits.shape)} != teacher {tuple(teacher_logits.shape)}"
        )
    if mask.shape != student_logits.shape[:2]:
        raise ValueError(f"mask {tuple(mask.shape)} != logits {tuple(student_logits.shape[:2])}")
    if not temperature > 0:
        raise ValueError(f"model_conf.distill_temperature={temperature} must be > 0")
    s = student_logits[mask].float() / temperature  # (N, V)
    t = teacher_logits.detach()[mask].float() / temperature
    if s.size(0) == 0:
        return student_logits.sum() * 0.0
    kl = F.kl_div(
        F.log_softmax(s, dim=-1), F.log_softmax(t, dim=-1), log_target=True, reduction="batchmean"
    )
    return kl * temperature**2
