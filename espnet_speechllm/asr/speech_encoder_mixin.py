"""The speech side of ESPnetSpeechLLMModel: waveform -> encoder states.

``frontend -> specaug (training) -> normalize -> encoder``, as ESPnet's ASR model
runs them, plus what decoding needs: encoding a padded batch exactly as each
utterance alone (``encode_frames``) and the shortest input that encodes
(``min_input_samples``). A mixin, so that the modules stay attributes of the
model under ESPnet's names (``espnet2.torch_utils.initialize`` and checkpoints
key on them): the class using it sets ``frontend``, ``specaug``, ``normalize``,
``encoder`` and ``encoder_autocast`` (a dtype or None).
"""

from typing import Tuple

import torch

from espnet_speechllm.asr.layers.batch_exact import exact_padding, is_batch_exact
from espnet_speechllm.utils.low_precision import autocast


class SpeechEncoderMixin:
    """Encoder states of speech; for ``torch.nn.Module`` subclasses (see module doc)."""

    def encode_batch(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder states as training computes them.  ``(B, S) -> (B, T, D_enc), (B,)``

        Frontend and encoder run on the padded batch (SpecAugment in training mode);
        for decoding use ``encode_frames``, which equals each utterance alone.
        """
        return self._encode_feats(*self._extract_feats(speech, speech_lengths))

    def encode_frames(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder states before compression.  ``(B, S) -> (B, T, D_enc), (B,)``

        Used for decoding; the result equals encoding each utterance alone. The
        frontend runs per utterance (a centred STFT would read the padding). The
        encoder runs on the batch when ``is_batch_exact`` (ESPnet's conformer and
        transformer, under ``exact_padding``), else per utterance. The compressor
        and projector mask by length.
        """
        if bool((speech_lengths == speech_lengths.max()).all()):
            feats, feats_lens = self._extract_feats(speech, speech_lengths)
            return self._encode_feats(feats, feats_lens)
        one = [
            self._extract_feats(speech[b : b + 1, :n], speech_lengths[b : b + 1])
            for b, n in enumerate(speech_lengths.tolist())
        ]
        if is_batch_exact(self.encoder):
            feats = torch.nn.utils.rnn.pad_sequence([f[0] for f, _ in one], batch_first=True)
            feats_lens = torch.cat([lens for _, lens in one])
            with exact_padding(self.encoder, feats_lens):
                return self._encode_feats(feats, feats_lens)
        encoded = [self._encode_feats(f, lens) for f, lens in one]
        enc_lens = torch.cat([lens for _, lens in encoded])
        enc = torch.nn.utils.rnn.pad_sequence(
            [e[0, :n] for (e, _), n in zip(encoded, enc_lens.tolist())], batch_first=True
        )
        return enc, enc_lens

    def min_input_samples(self, limit: int) -> int:
        """Fewest input samples that the frontend and encoder turn into >= 1 frame.

        Shorter audio makes the frontend (STFT padding) or the encoder's
        subsampling fail, or leaves no frame. Lengths do not depend on the
        signal, so zeros are bisected once, in ``[1, limit]``. Without a
        frontend (features in) it is 1.

        Args:
            limit: Upper end of the search (e.g. one second of samples); raises
                ValueError if even that does not encode.
        """
        if self.frontend is None:
            return 1
        param = next(self.parameters())

        def encodes(n: int) -> bool:
            x = torch.zeros(1, n, dtype=param.dtype, device=param.device)
            n_ = torch.tensor([n], device=param.device)
            try:
                with torch.no_grad():
                    _, enc_lens = self.encode_batch(x, n_)
            except Exception:  # whichever error a too-short input raises in this model
                return False
            return int(enc_lens[0]) > 0

        if not encodes(limit):
            raise ValueError(f"The model's frontend + encoder cannot encode {limit} samples")
        lo, hi = 1, limit
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if encodes(mid) else (mid + 1, hi)
        return lo

    def max_encoded_frames(self, n_samples: int) -> int:
        """An upper bound of the encoder frames of ``n_samples`` of input, without encoding it.

        Frame counts of a frontend + encoder are chains of strided windows (STFT hop,
        subsampling convs, Whisper's stride 2): within 2 frames below an affine map
        ``L(n)`` of the sample count. Two probes on zeros, ``a`` < ``b`` samples
        (measured once), bound its slope from both sides, hence
        ``frames(n) <= L(n) < frames(a) + 2 + (n - a) * slope``; at most ``frames(b)``
        up to ``b`` samples.
        """
        if getattr(self, "_frame_probes", None) is None:
            self._frame_probes = self._probe_frames()
        (a, fa), (b, fb) = self._frame_probes
        if n_samples >= a:  # slope < (fb - fa + 2) / (b - a)
            bound = fa + 2 + -(-(n_samples - a) * (fb - fa + 2) // (b - a))
        else:  # slope > (fb - fa - 2) / (b - a)
            bound = fa + 2 - (a - n_samples) * max(0, fb - fa - 2) // (b - a)
        return max(0, min(bound, fb) if n_samples <= b else bound)

    def _probe_frames(self):
        """``((a, frames(a)), (b, frames(b)))``: b the longest of 5 s, 2.5 s, ... (at
        16 kHz) that encodes (Whisper's window may be shorter), a = b / 5."""
        param = next(self.parameters())

        def frames(n: int) -> int:
            x = torch.zeros(1, n, dtype=param.dtype, device=param.device)
            with torch.no_grad():
                return int(self.encode_batch(x, torch.tensor([n], device=param.device))[1][0])

        b = 80000
        while True:
            try:
                return (b // 5, frames(b // 5)), (b, frames(b))
            except Exception:  # too long for this encoder (or too short at b // 5)
                if b < 1000:
                    raise
                b //= 2

    def _extract_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        speech = speech[:, : int(speech_lengths.max())]
        if self.frontend is None:
            return speech, speech_lengths
        return self.frontend(speech, speech_lengths)

    def _encode_feats(
        self, feats: torch.Tensor, feats_lens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.specaug is not None and self.training:
            feats, feats_lens = self.specaug(feats, feats_lens)
        if self.normalize is not None:
            feats, feats_lens = self.normalize(feats, feats_lens)
        with autocast(feats.device, self.encoder_autocast, "model_conf.encoder_autocast"):
            enc, enc_lens, _ = self.encoder(feats, feats_lens)
        return enc.to(feats.dtype), enc_lens

