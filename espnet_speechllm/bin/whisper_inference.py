"""Whisper alone as an ASR system: its own decoder, ESPnet's decode-dir layout.

::

    python -m espnet_speechllm.bin.whisper_inference --model_dir exp/whisper \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound \\
        --output_dir exp/whisper_alone/decode_whisper/test/logdir/output.1 \\
        [--key_file KEYS] [--batch_size 8] [--ngpu 0] [--max_new_tokens 128] \\
        [--max_tokens_per_second 8] [--no_speech_threshold 0.6 [--logprob_threshold -1]] \\
        [--normalize upper_nopunct|none]

The HF Whisper dir (stage 6 converts the CTranslate2 tiny.en into ``exp/whisper``) decodes
each utterance greedily with ``WhisperForConditionalGeneration.generate`` (batched; the
feature extractor pads every utterance to Whisper's 30 s window) and writes
``OUTPUT_DIR/1best_recog/{text,token,token_int,score}`` as ESPnet's ``asr_inference``
does, so stage 13 scores it unchanged. ``score`` is the sum of the token log-probs.
``no_speech_prob`` (when the tokenizer has ``--no_speech_token``, default ``<|nocaptions|>``
or ``<|nospeech|>``) is Whisper's own no-speech probability, as openai-whisper computes it:
P(no-speech token) at the ``<|startoftranscript|>`` position, from the same encoder pass.
``--max_tokens_per_second R`` caps each hypothesis at ``ceil(R * seconds) + 4`` new tokens,
the speech-LLM's own length cap (``speech2text_llm``), so that a repetition loop stops there.
``--no_speech_threshold T`` writes "" where openai-whisper's ``transcribe`` skips a segment as
silence: no-speech probability > T and average log-prob (per token, end of text included)
< ``--logprob_threshold`` (openai-whisper's defaults: 0.6, -1.0); ``token``/``score`` keep the
decode.

``--normalize upper_nopunct`` (default) writes the text as the espeak recipes' references
are: digits spelled out (``25`` -> ``TWENTY FIVE``, ``3rd`` -> ``THIRD``, ``1928`` -> ``NINETEEN
TWENTY EIGHT``, inflect), upper-case, punctuation removed
except apostrophes inside words, hyphens split words. ``token``/``token_int`` are Whisper's
own tokens of the raw output (special tokens dropped).
"""

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from espnet_speechllm.utils.audio_input import read_audio
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, read_map_for

NORMALIZERS = ("upper_nopunct", "none")
_NUMBER = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)(st|nd|rd|th)?")
_NOT_WORD = re.compile(r"[^\w']+|(?<!\w)'|'(?!\w)")


def normalize(text: str, how: str = "upper_nopunct") -> str:
    """``"It's 25-ish, OK? March 3rd, 1928."`` ->
    ``"IT'S TWENTY FIVE ISH OK MARCH THIRD NINETEEN TWENTY EIGHT"`` (how=upper_nopunct)."""
    if how == "none":
        return " ".join(text.split())
    if how != "upper_nopunct":
        raise ValueError(f"--normalize: unknown '{how}', expected one of {NORMALIZERS}")
    import inflect  # a g2p_en dependency, installed with espnet

    engine = inflect.engine()

    def spell(m: re.Match) -> str:
        digits = m.group(1).replace(",", "")
        # 1110-1999 written without a comma are read as years ("nineteen twenty eight")
        year = m.group(1) == digits and len(digits) == 4 and 1110 <= int(digits) <= 1999
        group = 2 if year and int(digits) % 100 >= 10 else 0
        words = engine.number_to_words(digits, group=group, andword="")
        return f" {engine.ordinal(words) if m.group(2) else words} "

    text = _NUMBER.sub(spell, text)
    return " ".join(_NOT_WORD.sub(" ", text).upper().replace("_", " ").split())


def read_batch_audio(wav_scp: Dict[str, str], utts: Sequence[str], fs: int):
    """Mono float32 arrays of utts; the sample rate must be ``fs``."""
    out = []
    for utt in utts:
        samples, rate = read_audio(wav_scp[utt])
        if rate != fs:
            raise ValueError(f"utt '{utt}': {rate} Hz audio, Whisper needs {fs} Hz")
        out.append(samples.mean(axis=1) if samples.ndim == 2 else samples)
    return out


class WhisperASR:
    """Greedy Whisper decoding of a batch of waveforms.

    Args:
        model_dir: HF Whisper dir (model, tokenizer, preprocessor_config.json).
        device: ``cpu`` or ``cuda``.
        max_new_tokens: Cap on each hypothesis' length in tokens.
        max_tokens_per_second: Also at most ``ceil(rate * seconds) + 4`` tokens; None: no such cap.
        no_speech_token: The no-speech token; ``None``: ``<|nocaptions|>`` or ``<|nospeech|>``
            if the tokenizer has either (else no no-speech probability).
    """

    def __init__(
        self, model_dir: str, device: str = "cpu", max_new_tokens: int = 128,
        no_speech_token: Optional[str] = None, max_tokens_per_second: Optional[float] = None,
    ):  # fmt: skip
        from transformers import AutoTokenizer, WhisperFeatureExtractor, WhisperForConditionalGeneration

        self.features = WhisperFeatureExtractor.from_pretrained(model_dir, local_files_only=True)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = WhisperForConditionalGeneration.from_pretrained(
            model_dir, local_files_only=True
        ).to(device).eval()
        self.device = device
        self.max_new_tokens = max_new_tokens
        if max_tokens_per_second is not None and max_tokens_per_second <= 0:
            raise ValueError(f"--max_tokens_per_second must be > 0, got {max_tokens_per_second}")
        self.max_tokens_per_second = max_tokens_per_second
        # Whisper's task and timestamp tokens (<|notimestamps|>, <|0.00|>) are not all
        # flagged special in every tokenizer.json: drop any <|...|> token too.
        vocab = self.tokenizer.get_vocab()
        self.special = set(self.tokenizer.all_special_ids) | {
            i for t, i in vocab.items() if t.startswith("<|") and t.endswith("|>")
        }
        window = self.model.config.max_source_positions * 2 * self.features.hop_length
        self.max_samples = window  # the encoder's window (30 s for real Whisper)
        names = [no_speech_token] if no_speech_token else ["<|nocaptions|>", "<|nospeech|>"]
        self.no_speech_id = next((vocab[t] for t in names if t in vocab), None)
        if no_speech_token and self.no_speech_id is None:
            raise ValueError(f"--no_speech_token: {no_speech_token!r} is not in {model_dir}'s tokenizer")

    def check_lengths(self, waves: List, utts: Sequence[str]) -> None:
        """Raise ValueError naming the first utterance longer than the encoder's window."""
        for utt, w in zip(utts, waves):
            if len(w) > self.max_samples:
                raise ValueError(
                    f"utt '{utt}': {len(w)} samples, longer than Whisper's window of {self.max_samples}"
                )

    def __call__(self, waves: List, utts: Sequence[str]) -> List[Tuple[str, List[int], float, Optional[float]]]:
        """(raw text, token ids, sum of log-probs, no-speech probability or None) per waveform."""
        import torch

        self.check_lengths(waves, utts)
        feats = self.features(
            waves, sampling_rate=self.features.sampling_rate, return_tensors="pt"
        ).input_features.to(self.device)
        with torch.no_grad():
            enc = self.model.get_encoder()(feats)  # once, for generate and the no-speech step
            out = self.model.generate(
                encoder_outputs=enc, max_new_tokens=self.max_new_tokens, do_sample=False,
                num_beams=1, return_dict_in_generate=True, output_scores=True,
                logits_processor=self.length_caps(waves),
            )  # fmt: skip
            no_speech = self.no_speech_probs(enc) or [None] * len(waves)
        steps = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
        new = out.sequences[:, -steps.shape[1] :]
        eos = self.model.generation_config.eos_token_id
        results = []
        for ids, logp, p in zip(new.tolist(), steps, no_speech):
            n = next((k + 1 for k, t in enumerate(ids) if t == eos), len(ids))  # up to EOS
            keep = text_ids(ids[:n], self.special, len(self.tokenizer))
            results.append((self.tokenizer.decode(keep), keep, float(logp[:n].sum()), p))
        return results

    def length_caps(self, waves: List) -> Optional[List]:
        """[RowLengthCapProcessor] with each waveform's cap; None without --max_tokens_per_second."""
        if self.max_tokens_per_second is None:
            return None
        from transformers import LogitsProcessorList

        from espnet_speechllm.asr.generation.length_cap_processor import RowLengthCapProcessor, rate_cap

        fs = self.features.sampling_rate
        caps = [rate_cap(len(w), fs, self.max_tokens_per_second) for w in waves]
        return LogitsProcessorList([RowLengthCapProcessor(caps, self.model.generation_config.eos_token_id)])

    def text_log_probability(self, waves: List, texts: Sequence[str], utts: Sequence[str]) -> List[float]:
        """log P(text + end of text | audio) per waveform, teacher forced after Whisper's
        prompt (the tokenizer's ``prefix_tokens``, ``<|startoftranscript|><|notimestamps|>``
        for tiny.en; a tokenizer without them: the decoder start token). Raw scores: no
        token is suppressed, as ``generate`` does."""
        import torch

        self.check_lengths(waves, utts)
        feats = self.features(
            waves, sampling_rate=self.features.sampling_rate, return_tensors="pt"
        ).input_features.to(self.device)
        start = [self.model.generation_config.decoder_start_token_id]
        prompt = list(getattr(self.tokenizer, "prefix_tokens", start))
        eot = self.model.generation_config.eos_token_id
        rows = [prompt + self.tokenizer(t, add_special_tokens=False).input_ids + [eot] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [eot] * (width - len(r)) for r in rows], device=self.device)
        with torch.no_grad():
            logits = self.model(input_features=feats, decoder_input_ids=ids[:, :-1]).logits.float()
        logp = torch.log_softmax(logits, -1).gather(2, ids[:, 1:, None])[..., 0]  # (B, width - 1)
        keep = torch.arange(width - 1, device=self.device)[None] >= len(prompt) - 1
        keep = keep & (torch.arange(width - 1, device=self.device)[None] < torch.tensor(
            [len(r) - 1 for r in rows], device=self.device)[:, None])  # fmt: skip
        return (logp * keep).sum(1).tolist()

    def no_speech_probs(self, enc) -> Optional[List[float]]:
        """P(no-speech token | audio, <|startoftranscript|>) per utterance; None without the token."""
        import torch

        if self.no_speech_id is None:
            return None
        hidden = enc.last_hidden_state
        sot = torch.full((hidden.shape[0], 1), self.model.generation_config.decoder_start_token_id,
                         dtype=torch.long, device=hidden.device)  # fmt: skip
        logits = self.model(encoder_outputs=enc, decoder_input_ids=sot).logits[:, 0]
        return logits.float().softmax(-1)[:, self.no_speech_id].tolist()


def text_ids(ids: Sequence[int], special: Set[int], vocab_size: int) -> List[int]:
    """The ids of a hypothesis that are text: not special, and known to the tokenizer.

    The converted tiny.en checkpoint's output layer has more rows than its tokenizer has
    tokens; an id beyond the tokenizer (seen on out-of-domain audio) has no token string.
    """
    return [i for i in ids if i not in special and 0 <= i < vocab_size]


def skips_as_silence(no_speech: Optional[float], total: float, n_text: int,
                     no_speech_threshold: Optional[float], logprob_threshold: float) -> bool:
    """openai-whisper's silence rule for one hypothesis of ``n_text`` text tokens (written
    here: HF ``generate`` applies its ``no_speech_threshold`` to long-form audio only)."""
    if no_speech_threshold is None or no_speech is None:
        return False
    return no_speech > no_speech_threshold and total / (n_text + 1) < logprob_threshold


def decode(
    model_dir: str,
    wav_scp: Path,
    output_dir: Path,
    key_file: Optional[Path] = None,
    batch_size: int = 8,
    device: str = "cpu",
    max_new_tokens: int = 128,
    how: str = "upper_nopunct",
    no_speech_token: Optional[str] = None,
    max_tokens_per_second: Optional[float] = None,
    no_speech_threshold: Optional[float] = None,
    logprob_threshold: float = -1.0,
) -> int:
    """Write ``output_dir/1best_recog/{text,token,token_int,score[,no_speech_prob]}``; returns #utts."""
    keys = sorted(read_map(key_file)) if key_file else []
    scp = read_map_for(wav_scp, keys)
    utts = keys or sorted(scp)
    asr = WhisperASR(model_dir, device, max_new_tokens, no_speech_token, max_tokens_per_second)
    if no_speech_threshold is not None and asr.no_speech_id is None:
        raise ValueError(f"--no_speech_threshold: {model_dir}'s tokenizer has no no-speech token")
    out = output_dir / "1best_recog"
    out.mkdir(parents=True, exist_ok=True)
    names = ("text", "token", "token_int", "score") + (("no_speech_prob",) if asr.no_speech_id is not None else ())
    files = {n: open(out / n, "w", encoding="utf-8") for n in names}
    try:
        for i in range(0, len(utts), batch_size):
            batch = utts[i : i + batch_size]
            waves = read_batch_audio(scp, batch, asr.features.sampling_rate)
            for utt, (text, ids, total, no_speech) in zip(batch, asr(waves, batch)):
                toks = asr.tokenizer.convert_ids_to_tokens(ids)
                if skips_as_silence(no_speech, total, len(ids), no_speech_threshold, logprob_threshold):
                    text = ""
                files["text"].write(f"{utt} {normalize(text, how)}\n")
                files["token"].write(f"{utt} {' '.join(toks)}\n")
                files["token_int"].write(f"{utt} {' '.join(map(str, ids))}\n")
                files["score"].write(f"{utt} {total:.4f}\n")
                if no_speech is not None:
                    files["no_speech_prob"].write(f"{utt} {no_speech:.4f}\n")
            logging.info(f"{min(i + batch_size, len(utts))} / {len(utts)} utts decoded")
    finally:
        for f in files.values():
            f.close()
    return len(utts)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model_dir", required=True, help="HF Whisper dir (exp/whisper)")
    parser.add_argument(
        "--data_path_and_name_and_type", required=True, help="WAV_SCP,speech,sound (as asr_inference)"
    )
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--key_file", type=Path, default=None)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--max_new_tokens", type=int, default=128)
    parser.add_argument("--max_tokens_per_second", type=float, default=None,
                        help="also cap each hypothesis at ceil(RATE * seconds) + 4 tokens (default: no)")
    parser.add_argument("--no_speech_threshold", type=float, default=None,
                        help='write "" where no_speech_prob > this and the average log-prob < '
                        "--logprob_threshold (openai-whisper: 0.6; default: never)")
    parser.add_argument("--logprob_threshold", type=float, default=-1.0)
    parser.add_argument("--normalize", choices=NORMALIZERS, default="upper_nopunct")
    parser.add_argument("--no_speech_token", default=None,
                        help="token whose probability is no_speech_prob (default <|nocaptions|> or <|nospeech|>)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    path, _, rest = args.data_path_and_name_and_type.partition(",")
    if rest.split(",") != ["speech", "sound"]:
        sys.exit(f"whisper_inference: expected WAV_SCP,speech,sound, got {args.data_path_and_name_and_type}")
    try:
        n = decode(
            args.model_dir, Path(path), args.output_dir, key_file=args.key_file,
            batch_size=args.batch_size, device="cuda" if args.ngpu > 0 else "cpu",
            max_new_tokens=args.max_new_tokens, how=args.normalize,
            no_speech_token=args.no_speech_token, max_tokens_per_second=args.max_tokens_per_second,
            no_speech_threshold=args.no_speech_threshold, logprob_threshold=args.logprob_threshold,
        )  # fmt: skip
    except ValueError as e:
        sys.exit(f"whisper_inference: {e}")
    print(f"whisper_inference: {n} utts -> {args.output_dir / '1best_recog'}")


if __name__ == "__main__":
    main()
