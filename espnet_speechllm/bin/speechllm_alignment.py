"""Alignment analysis of a trained speech-LLM (arXiv 2307.11795, Sec. 5).

For each utterance: the cosine similarity between the audio embeddings the LLM
reads (after encoder, compressor and projector) and the LLM's input embeddings of
the reference transcript, as a PNG heatmap, and how monotonic the best-matching
audio position is along the transcript (see ``analysis/alignment.py``)::

    python -m espnet_speechllm.bin.speechllm_alignment \\
        --train_config exp/x/config.yaml --model_file exp/x/valid.acc.ave.pth \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound \\
        --data_path_and_name_and_type dump/raw/test/text,text,text \\
        --output_dir exp/x/alignment/test --num_plots 10

Writes ``alignment.tsv`` (one row per utterance), ``png/<utt>.png`` for the first
``--num_plots`` utterances and ``summary.txt`` (means over utterances), and
prints the summary.
"""

import argparse
import logging
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from typeguard import typechecked

from espnet2.utils.types import str2triple_str
from espnet_speechllm.analysis.alignment import cosine_matrix, monotonicity, plot_alignment
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from espnet_speechllm.utils.cli import parse_args

COLUMNS = ("utt_id", "audio_positions", "text_tokens", "nondecreasing", "spearman", "mean_max_cos")


@typechecked
def analyse(
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
    train_config: str,
    model_file: str,
    output_dir: str,
    num_plots: int = 10,
    max_utts: int = 0,
    key_file: Optional[str] = None,
) -> Dict[str, float]:
    """Run the analysis; returns the means over utterances (and ``n_utts``)."""
    names = {name for _, name, _ in data_path_and_name_and_type}
    if not {"speech", "text"} <= names:
        raise ValueError(
            "--data_path_and_name_and_type needs both a 'speech' (wav.scp) and a 'text' "
            f"entry (the reference transcripts), got {sorted(names)}"
        )
    model, train_args = SpeechLLMTask.build_model_from_file(train_config, model_file, "cpu")
    model.eval()
    tokenizer = model.decoder.tokenizer
    loader = SpeechLLMTask.build_streaming_iterator(
        data_path_and_name_and_type,
        dtype="float32",
        batch_size=1,
        key_file=key_file,
        num_workers=0,
        preprocess_fn=SpeechLLMTask.build_preprocess_fn(train_args, False),
        collate_fn=SpeechLLMTask.build_collate_fn(train_args, False),
        inference=False,  # the transcripts are required here
    )
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: List[Dict] = []
    with torch.no_grad(), open(out / "alignment.tsv", "w", encoding="utf-8") as tsv:
        tsv.write("\t".join(COLUMNS) + "\n")
        for keys, batch in loader:
            key = keys[0]
            ids = batch["text"][0, : int(batch["text_lengths"][0])]
            if len(ids) < 2:
                logging.warning(f"{key}: fewer than 2 transcript tokens, skipped")
                continue
            audio, audio_lens = model.encode(batch["speech"], batch["speech_lengths"])
            audio = audio[0, : int(audio_lens[0])]
            if audio.size(0) == 0:
                logging.warning(f"{key}: no audio positions after compression, skipped")
                continue
            sim = cosine_matrix(audio, model.decoder.embed(ids[None])[0])
            stats = monotonicity(sim)
            row = dict(utt_id=key, audio_positions=sim.shape[0], text_tokens=sim.shape[1], **stats)
            rows.append(row)
            tsv.write("\t".join(_fmt(row[c]) for c in COLUMNS) + "\n")
            if len(rows) <= num_plots:
                tokens = [tokenizer.decode([i]).strip() or repr(tokenizer.decode([i])) for i in ids.tolist()]
                plot_alignment(sim, tokens, out / "png" / f"{key}.png", key, stats)
            if max_utts and len(rows) >= max_utts:
                break
    if not rows:
        raise ValueError(f"no utterance with >= 2 transcript tokens and audio in {output_dir}'s input")
    summary = {"n_utts": float(len(rows))}
    for c in COLUMNS[1:]:
        values = [r[c] for r in rows if not math.isnan(r[c])]
        summary[c] = float(np.mean(values)) if values else float("nan")
    lines = [f"{c}\t{_fmt(v)}" for c, v in summary.items()]
    (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--train_config", required=True, help="config.yaml of the trained model")
    p.add_argument("--model_file", required=True, help="Trained parameters (*.pth)")
    p.add_argument(
        "--data_path_and_name_and_type", type=str2triple_str, action="append", required=True,
        help="wav.scp,speech,sound and text,text,text",
    )  # fmt: skip
    p.add_argument("--key_file", default=None)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--num_plots", type=int, default=10, help="PNG heatmaps for the first N")
    p.add_argument("--max_utts", type=int, default=0, help="stop after N utterances (0: all)")
    return p


def main(cmd=None) -> None:
    args = parse_args(get_parser(), cmd)
    kwargs = vars(args).copy()
    kwargs.pop("log_level")
    summary = analyse(**kwargs)
    print(f"alignment over {int(summary['n_utts'])} utterances -> {args.output_dir}")
    for c in COLUMNS[1:]:
        print(f"  mean {c}: {_fmt(summary[c])}")


if __name__ == "__main__":
    main()
