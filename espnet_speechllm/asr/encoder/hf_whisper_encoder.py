"""The encoder of a Hugging Face Whisper model as an ESPnet encoder (raw waveform in)."""

from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from typeguard import typechecked

from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet_speechllm.pretrained.hf_pretrained import build_hf_model
from espnet_speechllm.pretrained.sources import MODEL_DIR

N_FFT = 400
HOP_LENGTH = 160
SAMPLE_RATE = 16000


def whisper_mel_filters(n_mels: int) -> torch.Tensor:
    """Whisper's slaney mel filterbank.  -> (N_FFT // 2 + 1, n_mels)"""
    from transformers.audio_utils import mel_filter_bank

    fb = mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=SAMPLE_RATE / 2,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(fb).float()


def whisper_log_mel(
    wav: torch.Tensor, mel_filters: torch.Tensor, window: torch.Tensor
) -> torch.Tensor:
    """Whisper's normalised log-mel of one utterance, without padding to 30 s.

    ``(S,) -> (S // 160, n_mels)``; as ``WhisperFeatureExtractor`` computes it
    (power STFT, last frame dropped, log10, floor at max - 8, (x + 4) / 4).
    """
    spec = torch.stft(wav, N_FFT, HOP_LENGTH, window=window, return_complex=True)
    power = spec[:, :-1].abs() ** 2  # (F, T)
    mel = (mel_filters.T @ power).clamp(min=1e-10).log10()  # (n_mels, T)
    mel = torch.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).T  # (T, n_mels)


class HFWhisperEncoder(AbsEncoder):
    """The encoder of an HF ``WhisperModel`` on variable-length input.

    Computes Whisper's log-mel itself (use ``frontend: none``, ``input_size: 1``
    and ``normalize: none``). Unlike Whisper's own pipeline, inputs are not
    padded to 30 s: the positional embeddings are sliced to the input length
    and padded frames are masked in attention, so an utterance gives the same
    output alone as inside a batch. 100 mel frames/s -> 50 output frames/s.

    Args:
        input_size: Unused (ESPnet passes the frontend size).
        model_name_or_path: Local HF Whisper directory or hub id.
        config: ``WhisperConfig`` fields for a random model instead (tests).
        local_files_only: Never reach the network (default).
    """

    # Paths read when built, packed by stage 14 (see pretrained/sources.py).
    pretrained_sources = {"model_name_or_path": MODEL_DIR}
    # LoRA targets for model_conf.encoder_mode=lora (see asr/encoder_mode.py).
    lora_target_modules = ["q_proj", "k_proj", "v_proj", "out_proj"]

    @typechecked
    def __init__(
        self,
        input_size: int = 1,
        model_name_or_path: Optional[str] = None,
        config: Optional[Dict[str, Any]] = None,
        local_files_only: bool = True,
    ):
        super().__init__()
        from transformers import WhisperConfig, WhisperModel

        whisper = build_hf_model(
            WhisperModel, WhisperConfig, model_name_or_path, config, local_files_only
        )
        self.encoder = whisper.encoder  # the decoder is dropped
        self.pretrained = model_name_or_path is not None
        cfg = whisper.config
        self.max_frames = cfg.max_source_positions
        self.register_buffer(
            "mel_filters", whisper_mel_filters(cfg.num_mel_bins), persistent=False
        )
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def output_size(self) -> int:
        return self.encoder.config.d_model

    def reloads_pretrained(self) -> bool:
        """Weights come from ``model_name_or_path`` when the model is built."""
        return self.pretrained

    def log_mel(
        self, xs_pad: torch.Tensor, ilens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-utterance log-mel (no padding leaks in).  ``(B, S) -> (B, T, n_mels)``"""
        if bool((ilens <= N_FFT // 2).any()):
            raise ValueError(
                f"HFWhisperEncoder: inputs need > {N_FFT // 2} samples, got lengths "
                f"{ilens.tolist()}"
            )
        feats = [
            whisper_log_mel(xs_pad[b, :n].float(), self.mel_filters, self.window)
            for b, n in enumerate(ilens.tolist())
        ]
        flens = torch.tensor([f.size(0) for f in feats], device=xs_pad.device)
        return torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), flens

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: torch.Tensor = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Encode raw 16 kHz waveforms.

        Args:
            xs_pad: Waveforms (B, S) (or (B, S, 1)).
            ilens: Samples per utterance (B,).
            prev_states: Unused.
        Returns:
            hs_pad (B, T', D) with T' = ceil((S // 160) / 2), hlens (B,), None.
        """
        if xs_pad.dim() == 3:
            xs_pad = xs_pad.squeeze(-1)
        enc = self.encoder
        feats, flens = self.log_mel(xs_pad, ilens)  # (B, T, n_mels)
        t = feats.size(1)
        valid = torch.arange(t, device=feats.device)[None, :] < flens[:, None]  # (B, T)
        x = feats.transpose(1, 2) * valid[:, None]  # (B, n_mels, T)
        # Zero the padding after each conv, as the conv's own zero padding does
        # for an utterance alone.
        x = F.gelu(enc.conv1(x)) * valid[:, None]
        x = F.gelu(enc.conv2(x)).transpose(1, 2)  # (B, T', D), T' = (T - 1) // 2 + 1
        hlens = (flens - 1) // 2 + 1
        t_out = x.size(1)
        if t_out > self.max_frames:
            raise ValueError(
                f"HFWhisperEncoder: {t_out} frames ({t_out / 50:.1f} s) exceed the "
                f"model's {self.max_frames} positions; shorten the input "
                "(e.g. --max_wav_duration 30)"
            )
        x = x + enc.embed_positions.weight[:t_out]
        x = F.dropout(x, p=enc.dropout, training=self.training)
        keep = torch.arange(t_out, device=x.device)[None, :] < hlens[:, None]  # (B, T')
        mask = torch.zeros(keep.shape, dtype=x.dtype, device=x.device)
        mask = mask.masked_fill(~keep, torch.finfo(x.dtype).min)[:, None, None, :]
        for layer in enc.layers:
            x = layer(x, mask)
        x = enc.layer_norm(x) * keep[..., None]
        return x, hlens, None
