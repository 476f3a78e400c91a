#!/usr/bin/env python3
"""Score two hypotheses of each utterance under the speech-LLM and under Whisper.

::

    python -m espnet_speechllm.bin.joint_hyp_score \\
        --train_config exp/<model>/config.yaml --model_file exp/<model>/valid.acc.ave.pth \\
        --whisper_dir exp/whisper --data_dir dump_hint/raw/test \\
        --hyp exp/<model>/<tag>/test/text --whisper_hyp exp/whisper_hint/decode_whisper/test/text \\
        --out exp/<model>/<tag>_select/test/joint_scores

Where the two hypotheses differ and neither is "" (the empty gate decides about ""), the
utterance gets a row ``<utt> <llm(hyp)> <llm(whisper_hyp)> <whisper(hyp)> <whisper(whisper_hyp)>``:
each model's summed log-probability of each text, teacher forced (``Speech2TextLLM.
text_log_probability`` with the utterance's ``instruction``, e.g. its Whisper hint;
``WhisperASR.text_log_probability`` of the text in Whisper's own writing,
``recipe.hyp_select.whisper_form``). ``recipe/hyp_select.py`` chooses between them.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from espnet_speechllm.recipe.hyp_select import whisper_form
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, read_map_for


def differing(hyp: Dict[str, str], other: Dict[str, str]) -> Dict[str, tuple]:
    """``{utt: (hyp, other)}`` where both are non-empty and differ (utts of ``hyp``)."""
    missing = sorted(set(hyp) - set(other))
    if missing:
        raise ValueError(f"{len(missing)} utterances have no Whisper hypothesis, e.g. '{missing[0]}'")
    return {u: (h, other[u]) for u, h in hyp.items() if h and other[u] and h != other[u]}


def joint_scores(
    train_config: Path, model_file: Path, whisper_dir: Path, data_dir: Path,
    pairs: Dict[str, tuple], device: str = "cpu",
) -> Dict[str, tuple]:  # fmt: skip
    """``{utt: (llm_a, llm_b, whisper_a, whisper_b)}`` for the ``(a, b)`` text pairs."""
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed

    from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM
    from espnet_speechllm.bin.whisper_inference import WhisperASR, read_batch_audio

    set_all_random_seed(0)  # as speechllm_inference: weights not in the checkpoint are built alike
    s2t = Speech2TextLLM(str(train_config), str(model_file), device=device)
    asr = WhisperASR(str(whisper_dir), device)
    scp = read_map_for(data_dir / "wav.scp", sorted(pairs))
    instruction = read_map(data_dir / "instruction") if (data_dir / "instruction").is_file() else {}
    rows = {}
    for n, utt in enumerate(sorted(pairs), 1):
        wav = read_batch_audio(scp, [utt], asr.features.sampling_rate)[0]
        texts = list(pairs[utt])
        fields = [{"instruction": instruction[utt]}] * 2 if utt in instruction else None
        llm = s2t.text_log_probability([wav, wav], texts, [utt, utt], fields, fs=asr.features.sampling_rate)
        wh = asr.text_log_probability([wav, wav], [whisper_form(t) for t in texts], [utt, utt])
        rows[utt] = (*llm, *wh)
        if n % 20 == 0:
            logging.info(f"{n} / {len(pairs)} utterances scored")
    return rows


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_config", type=Path, required=True, help="config.yaml of the speech-LLM")
    parser.add_argument("--model_file", type=Path, required=True, help="its trained parameters (*.pth)")
    parser.add_argument("--whisper_dir", type=Path, required=True, help="HF Whisper dir (stage 6: exp/whisper)")
    parser.add_argument("--data_dir", type=Path, required=True, help="wav.scp [+ instruction] of the set")
    parser.add_argument("--hyp", type=Path, required=True, help="the speech-LLM's text (Kaldi text file)")
    parser.add_argument("--whisper_hyp", type=Path, required=True, help="Whisper's text of the same set")
    parser.add_argument("--out", type=Path, required=True, help="writes the score rows here")
    parser.add_argument("--device", default="cpu")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (joint_hyp_score) %(message)s")
    try:
        pairs = differing(read_map(args.hyp), read_map(args.whisper_hyp))
        rows = joint_scores(args.train_config, args.model_file, args.whisper_dir, args.data_dir, pairs, args.device)
    except ValueError as e:
        sys.exit(f"joint_hyp_score: {args.hyp}: {e}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(f"{u} {' '.join(f'{v:.4f}' for v in r)}\n" for u, r in sorted(rows.items()))
    logging.info(f"{len(rows)} of {len(read_map(args.hyp))} utterances differ from Whisper's: {args.out}")


if __name__ == "__main__":
    main()
