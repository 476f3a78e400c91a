"""A causal LM trained on text alone, for ESPnet's Trainer."""

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from typeguard import typechecked

from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel
from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder

IGNORE_ID = -100


class ESPnetCausalLMModel(AbsESPnetModel):
    """Next-token cross entropy of ``text + [eos]`` after a ``[bos]`` prefix.

    The LLM is an :class:`HFLLMDecoder`, the same wrapper the speech model
    uses, so a trained LM exports to (and reloads from) a plain HF directory::

        input    <s> t1  t2  t3
        target   t1  t2  t3  </s>

    The prefix is the embedding of ``bos`` (``eos`` when the tokenizer has no
    ``bos``, as GPT-2 style tokenizers do).

    Args:
        decoder: The LLM (``mode: full`` to train it).
    """

    @typechecked
    def __init__(self, decoder: HFLLMDecoder):
        super().__init__()
        self.decoder = decoder
        tok = decoder.tokenizer
        bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self.bos = int(bos)
        self.eos = decoder.eos
        # Text-only data: nothing for collect_stats to accumulate besides shapes.
        self.extract_feats_in_collect_stats = False

    def _logits_and_targets(
        self, text: torch.Tensor, text_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, L + 1, V) and targets (B, L + 1), ``IGNORE_ID`` on padding."""
        bsz = text.size(0)
        bos = torch.full((bsz, 1), self.bos, dtype=torch.long, device=text.device)
        prefix = self.decoder.embed(bos)  # (B, 1, D)
        ones = torch.ones(bsz, dtype=torch.long, device=text.device)
        logits, _ = self.decoder(prefix, ones, text, text_lengths)
        targets = F.pad(text.long(), (0, 1), value=IGNORE_ID)  # (B, L + 1)
        targets = targets.scatter(1, text_lengths[:, None].long(), self.eos)
        steps = torch.arange(targets.size(1), device=text.device)
        targets = targets.masked_fill(steps[None, :] > text_lengths[:, None], IGNORE_ID)
        return logits, targets

    def nll(
        self, text: torch.Tensor, text_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Negative log-likelihood (nats) of each utterance's ``text + [eos]``.

        Args:
            text: Token ids, padded with any value (B, L).
            text_lengths: (B,).
        Returns:
            nll (B,) and the number of predicted tokens ``text_lengths + 1`` (B,).
        """
        logits, targets = self._logits_and_targets(text, text_lengths)
        nll = F.cross_entropy(
            logits.float().transpose(1, 2),
            targets,
            ignore_index=IGNORE_ID,
            reduction="none",
        )  # (B, L + 1)
        return nll.sum(1), text_lengths + 1

    def forward(
        self, text: torch.Tensor, text_lengths: torch.Tensor, **kwargs
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Token-averaged loss; the weight is the token count.

        With ``weight = ntokens`` ESPnet's reporter averages ``loss`` over
        tokens, so ``exp`` of the reported valid loss is the perplexity.

        Args:
            text: Token ids, padded with -1 (B, L).
            text_lengths: (B,).
            kwargs: ``utt_id`` and other keys the Trainer passes; unused.
        """
        logits, targets = self._logits_and_targets(text, text_lengths)
        valid = targets != IGNORE_ID
        ntokens = valid.sum()
        loss = (
            F.cross_entropy(
                logits.float().flatten(0, 1),
                targets.flatten(),
                ignore_index=IGNORE_ID,
                reduction="sum",
            )
            / ntokens
        )
        acc = (logits.argmax(-1) == targets)[valid].float().mean()
        stats = dict(loss=loss.detach(), acc=acc.detach())
        return force_gatherable((loss, stats, ntokens), loss.device)

    def collect_feats(
        self, text: torch.Tensor, text_lengths: torch.Tensor, **kwargs
    ) -> Dict[str, torch.Tensor]:
        return {}
