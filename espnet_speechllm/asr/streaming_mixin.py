"""The online data path of ESPnetSpeechLLMModel: waveform chunks -> final LLM audio positions.

``frontend -> normalize -> encoder.forward_chunk -> compressor.forward_online ->
project``, one utterance at a time, each stage emitting only what later audio cannot
change:

- the frontend: the feature frames whose STFT window lies inside the samples seen
  (``layers/stft_stream.py``), re-computed on a short window of recent samples;
- the encoder: ESPnet's contextual block conformer, block by block;
- the compressor: the CTC segments followed by a label change (``ctc_closed_frames``);
- the projector: per position (``linear`` / ``mlp``).

Over an utterance the positions emitted are those of ``encode`` on the whole audio
(up to float rounding of the block-wise encoder). A mixin, as ``SpeechEncoderMixin``.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import torch

from espnet2.layers.utterance_mvn import UtteranceMVN
from espnet_speechllm.asr.layers.stft_stream import final_frame_window
from espnet_speechllm.asr.projector.linear_projector import LinearProjector
from espnet_speechllm.asr.projector.mlp_projector import MLPProjector
from espnet_speechllm.utils.low_precision import autocast

# Projectors that map each position alone (a strided or attending one cannot stream).
POSITIONWISE_PROJECTORS = (LinearProjector, MLPProjector)


@dataclass
class StreamState:
    """What one utterance's stream keeps between chunks.

    Args:
        wave: Samples from ``wave_start`` on (the frontend's next window).
        wave_start: Global index of ``wave[0]``.
        n_samples: Samples received.
        n_feats: Feature frames emitted to the encoder.
        encoder_states: ``forward_chunk``'s states.
        pending: Encoder frames of the open CTC segment (1, P, D_enc).
        ctc_logp: Per chunk, the CTC head's log posteriors (T_i, V + 1).
        n_audio: LLM audio positions emitted.
    """

    wave: torch.Tensor
    wave_start: int = 0
    n_samples: int = 0
    n_feats: int = 0
    encoder_states: Optional[Any] = None
    pending: Optional[torch.Tensor] = None
    ctc_logp: List[torch.Tensor] = field(default_factory=list)
    n_audio: int = 0

    @property
    def n_frames(self) -> int:
        """Encoder frames so far."""
        return sum(x.size(0) for x in self.ctc_logp)

    def ctc_posteriors(self) -> Optional[torch.Tensor]:
        """Log posteriors of every encoder frame so far (T, V + 1); None without a CTC head."""
        return torch.cat(self.ctc_logp) if self.ctc_logp else None


class StreamingMixin:
    """Chunk API of the model (see module doc): ``check_streaming``, ``new_stream``,
    ``encode_chunk``."""

    def check_streaming(self, config: str = "the training config") -> None:
        """Raise ValueError naming the config key that keeps this model from streaming."""
        problems = []
        if not getattr(self.encoder, "is_streaming", False):
            problems.append(
                f"encoder: {type(self.encoder).__name__} is not streaming-capable "
                "(use encoder: contextual_block_conformer)"
            )
        if self.frontend is None or not hasattr(self.frontend, "hop_length"):
            problems.append("frontend: streaming needs the STFT frontend (frontend: default)")
        if isinstance(self.normalize, UtteranceMVN):
            problems.append(
                "normalize: utterance_mvn needs the whole utterance (use global_mvn, "
                "speechllm.sh --feats_normalize global_mvn)"
            )
        if not hasattr(self.compressor, "forward_online"):
            problems.append(
                f"compressor: {type(self.compressor).__name__} has no online mode (use compressor: ctc)"
            )
        if not isinstance(self.projector, POSITIONWISE_PROJECTORS):
            problems.append(
                f"projector: {type(self.projector).__name__} mixes positions (use linear or mlp)"
            )
        if getattr(self.decoder, "prefix_attention", "causal") != "causal":
            problems.append("decoder_conf.prefix_attention: must be causal to extend a KV cache")
        if problems:
            raise ValueError(f"{config} cannot decode online: " + "; ".join(problems))

    def new_stream(self) -> StreamState:
        """The state of an utterance before its first chunk."""
        param = next(self.parameters())
        return StreamState(wave=param.new_zeros(0))

    @torch.no_grad()
    def encode_chunk(
        self, speech: torch.Tensor, state: StreamState, is_final: bool = False
    ) -> Tuple[torch.Tensor, StreamState]:
        """LLM audio positions that the next chunk of one utterance makes final.

        Args:
            speech: The chunk's samples (S,) (S may be 0, e.g. a final flush).
            state: ``new_stream()`` or what the previous call returned (updated in place).
            is_final: The utterance ends with this chunk: flush every stage.
        Returns:
            The new audio embeddings (1, N, D_llm) (N may be 0) and the state.
        """
        state.wave = torch.cat([state.wave, speech.to(state.wave)])
        state.n_samples += speech.numel()
        feats = self._final_feats(state, is_final)  # (1, T, F)
        if feats.size(1) == 0 and not is_final:  # no new frame: nothing can change
            return feats.new_zeros(1, 0, self.decoder.output_size()), state
        with autocast(feats.device, self.encoder_autocast, "model_conf.encoder_autocast"):
            enc, enc_lens, state.encoder_states = self.encoder.forward_chunk(
                feats, torch.tensor([feats.size(1)], device=feats.device),
                state.encoder_states, is_final,
            )
        enc = enc.to(feats.dtype)
        head = self.compressor.ctc_head
        if head is not None and enc.size(1):
            state.ctc_logp.append(head.log_softmax(enc)[0])  # (T, V + 1)
        if state.pending is not None:
            enc = torch.cat([state.pending, enc], dim=1)
        comp, comp_lens, used = self.compressor.forward_online(
            enc, torch.tensor([enc.size(1)], device=enc.device), is_final
        )
        state.pending = enc[:, int(used[0]) :]
        audio, audio_lens = self.project(comp, comp_lens)
        state.n_audio += int(audio_lens[0])
        return audio[:, : int(audio_lens[0])], state

    def _final_feats(self, state: StreamState, is_final: bool) -> torch.Tensor:
        """Normalized feature frames that the samples so far make final.  -> (1, T, F)"""
        stft = self.frontend.stft
        win = final_frame_window(
            state.n_feats, state.n_samples, stft.n_fft, stft.hop_length, is_final
        )
        dim = self.frontend.output_size()
        if win.last <= win.first or win.stop - win.start <= stft.n_fft // 2:
            # Nothing final yet (or too few samples for the STFT's reflect padding).
            return state.wave.new_zeros(1, 0, dim)
        x = state.wave[win.start - state.wave_start : win.stop - state.wave_start][None]
        feats, lens = self.frontend(x, torch.tensor([x.size(1)], device=x.device))
        feats = feats[:, win.first : win.last]
        if self.normalize is not None:
            feats, _ = self.normalize(feats, torch.tensor([feats.size(1)], device=x.device))
        state.n_feats += feats.size(1)
        # Keep the samples that the next window starts from.
        keep = final_frame_window(state.n_feats, state.n_samples, stft.n_fft, stft.hop_length, False)
        cut = max(0, min(keep.start, state.n_samples) - state.wave_start)
        state.wave, state.wave_start = state.wave[cut:], state.wave_start + cut
        return feats
