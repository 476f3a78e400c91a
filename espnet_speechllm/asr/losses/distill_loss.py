"""The distillation term of AudioChatLlama (arXiv 2311.06753): KL on the response positions.

The student is the LLM given the audio, the teacher the same frozen LLM given the transcript
(asr/losses/teacher_pass.py); both are teacher-forced on the same response, so position i of
one predicts the same token as position i of the other, whatever their prefixes' lengths.

Wired in asr/losses/auxiliary_losses.py (``AuxiliaryLosses.response_loss``; model_conf keys
``distill_weight`` (0 = off, the default: no teacher pass), ``distill_temperature`` (T) and
``ce_weight``). ``text`` is the response (data file ``response``), ``src_text`` the transcript
(data file ``text``); the teacher reads the unmasked ``text``.
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
