"""ESPnet's own streaming CTC/attention ASR behind the interface of ``bench/streaming.py``.

The comparison row of the streaming bench: an ``ESPnetASRModel`` with the same contextual
block conformer as the streaming speech-LLM (``conf/tuning/
train_asr_streaming_conformer_transformer.yaml``, ``speechllm.sh --model_type seq2seq``),
decoded offline by ``espnet2.bin.asr_inference.Speech2Text`` and online by
``espnet2.bin.asr_inference_streaming.Speech2TextStreaming``, both ESPnet's own classes.
The adapters only give them the calls ``bench.streaming`` makes of ours (``fs``,
``chunk_samples``, ``reset``, ``__call__`` -> hypotheses with ``text`` / ``token_ids``).

Two things ESPnet leaves out, filled in here:

- ``Speech2TextStreaming`` returns nothing before the final call; a partial is its beam
  search's best running hypothesis (``beam_search.running_hyps``, best first), so the
  token lag can be measured the same way as ours.
- Its beam search keeps ``BatchBeamSearchOnline``'s default blocks (40 / 16 / 16 encoder
  frames) whatever the encoder's; they are set to the encoder's ``block_size`` /
  ``hop_size`` / ``look_ahead`` (16 / 8 / 4 = 0.96 / 0.48 / 0.24 s), so its search advances
  with the encoder's blocks (the defaults would wait 2.4 s of audio before the first one).

Token ids are the LLM tokenizer's (ESPnet's hugging_face preprocessing; ``<blank>`` = 0 is
the tokenizer's unused pad id): the text is the tokenizer's decode of the ids, and the CTC
forced alignment uses them as CTC classes.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import torch

from espnet_speechllm.pretrained.safe_load import weights_only_loads


@dataclass
class EspnetHyp:
    """One hypothesis in the shape ``bench.streaming`` reads."""

    text: str
    token_ids: List[int]


def _hf_tokenizer(train_args):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(train_args.bpemodel, local_files_only=True)


class _Common:
    fs = 16000

    def __init__(self, cls, config: Path, model_file: Path, beam_size: int, ctc_weight: float):
        """ESPnet's decoder class ``cls`` on the model (no LM, 1-best, text decoded here)."""
        with weights_only_loads():
            self.s2t = cls(str(config), str(model_file), beam_size=beam_size, ctc_weight=ctc_weight,
                           lm_weight=0.0, nbest=1, token_type="word")  # fmt: skip
        self.model = self.s2t.asr_model
        self.sos_eos = self.model.sos
        self.tokenizer = _hf_tokenizer(self.s2t.asr_train_args)

    def _hyp(self, ids: List[int]) -> EspnetHyp:
        ids = [int(t) for t in ids if 0 < int(t) < self.sos_eos]
        return EspnetHyp(self.tokenizer.decode(ids, skip_special_tokens=True).strip(), ids)

    def chunk_samples(self, chunk_ms: float) -> int:
        """Samples in one chunk of ``chunk_ms`` milliseconds."""
        return max(1, int(round(self.fs * chunk_ms / 1000)))

    def token_end_times(self, speech: torch.Tensor, ids: List[int]) -> Optional[List[float]]:
        """End (s) of each token's audio: CTC forced alignment on ESPnet's CTC posteriors."""
        from bench.streaming import align_ends

        with torch.no_grad():
            enc, enc_lens = self.model.encode(speech[None], torch.tensor([speech.numel()]))
            logp = self.model.ctc.log_softmax(enc)[:, : int(enc_lens[0])].float()
        return align_ends(logp, ids, speech.numel() / self.fs)


class EspnetOffline(_Common):
    """``Speech2Text`` on the whole utterance.  ``(T,) -> [EspnetHyp]``"""

    def __init__(self, config: Path, model_file: Path, beam_size: int, ctc_weight: float):
        from espnet2.bin.asr_inference import Speech2Text

        super().__init__(Speech2Text, config, model_file, beam_size, ctc_weight)

    def __call__(self, speech: torch.Tensor) -> List[EspnetHyp]:
        results = self.s2t(speech)
        return [self._hyp(results[0][2])] if results else [EspnetHyp("", [])]


class EspnetStreaming(_Common):
    """``Speech2TextStreaming`` fed chunks.  ``(chunk,), is_final -> [EspnetHyp]``"""

    def __init__(self, config: Path, model_file: Path, beam_size: int, ctc_weight: float):
        from espnet2.bin.asr_inference_streaming import Speech2TextStreaming

        super().__init__(Speech2TextStreaming, config, model_file, beam_size, ctc_weight)
        enc = self.s2t.asr_train_args.encoder_conf
        search = self.s2t.beam_search
        search.block_size, search.hop_size = enc["block_size"], enc["hop_size"]
        search.look_ahead = enc["look_ahead"]

    def reset(self) -> None:
        self.s2t.reset()

    def __call__(self, chunk: torch.Tensor, is_final: bool = False) -> List[EspnetHyp]:
        results = self.s2t(chunk, is_final=is_final)
        if is_final:
            return [self._hyp(results[0][2])] if results else [EspnetHyp("", [])]
        running = self.s2t.beam_search.running_hyps
        if running is None or running.yseq.shape[0] == 0:
            return [EspnetHyp("", [])]
        return [self._hyp(running.yseq[0, 1 : int(running.length[0])].tolist())]
