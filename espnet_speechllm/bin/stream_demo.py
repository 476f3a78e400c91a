#!/usr/bin/env python3
"""Microphone-free streaming demo: play a wav in real time into Speech2TextLLMStreaming.

Each chunk is handed over when its audio would have been spoken (the script sleeps
the rest of the chunk's duration), and every partial hypothesis is printed with the
audio time it covers and the wall-clock time since the stream started::

    python -m espnet_speechllm.bin.stream_demo --train_config exp/x/config.yaml \\
        --model_file exp/x/valid.acc.ave.pth --wav dump/raw/test/data/utt1.wav --chunk_ms 640

    [audio  0.64 s | wall  0.66 s] partial: and the lord
    ...
    [audio  3.12 s | wall  3.19 s] final:   and the lord spake unto moses  (0.07 s after the audio)
"""

import argparse
import time
from typing import List, Optional

import soundfile

from espnet2.utils.types import str2bool
from espnet_speechllm.bin.speech2text_llm_streaming import Speech2TextLLMStreaming


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train_config", required=True, help="config.yaml of a streaming model")
    parser.add_argument("--model_file", required=True, help="Trained parameters (*.pth)")
    parser.add_argument("--wav", required=True, help="The audio to stream (any rate: resampled)")
    parser.add_argument("--chunk_ms", type=float, default=640.0, help="Chunk length (ms)")
    parser.add_argument("--realtime", type=str2bool, default=True,
                        help="Sleep each chunk's duration (false: as fast as possible)")
    parser.add_argument("--beam_size", type=int, default=1, help="Beam of the final pass")
    parser.add_argument("--ctc_weight", type=float, default=0.0, help="Joint CTC/LLM weight")
    parser.add_argument("--ctc_pre_beam", type=int, default=0, help="Candidates CTC rescores")
    parser.add_argument("--max_tokens_per_second", type=float, default=10.0, help="Length cap rate")
    parser.add_argument("--unstable_tokens", type=int, default=2, help="Re-decoded partial tail")
    return parser


def stream(s2t: Speech2TextLLMStreaming, wav, fs: int, chunk_ms: float, realtime: bool) -> List[str]:
    """Stream ``wav``; print and return the lines shown."""
    step = max(1, int(round(fs * chunk_ms / 1000)))
    lines = []
    s2t.reset()
    t0 = time.perf_counter()
    for start in range(0, max(1, len(wav)), step):
        end = min(len(wav), start + step)
        if realtime:  # the chunk is complete only once its audio has been "spoken"
            time.sleep(max(0.0, end / fs - (time.perf_counter() - t0)))
        is_final = end >= len(wav)
        hyps = s2t(wav[start:end], is_final=is_final, fs=fs)
        wall = time.perf_counter() - t0
        text = hyps[0].text if hyps else ""
        kind = "final:  " if is_final else "partial:"
        line = f"[audio {end / fs:5.2f} s | wall {wall:5.2f} s] {kind} {text}"
        if is_final:
            line += f"  ({wall - end / fs:.2f} s after the audio)" if realtime else ""
        print(line, flush=True)
        lines.append(line)
    return lines


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    s2t = Speech2TextLLMStreaming(
        args.train_config,
        args.model_file,
        unstable_tokens=args.unstable_tokens,
        beam_size=args.beam_size,
        ctc_weight=args.ctc_weight,
        ctc_pre_beam=args.ctc_pre_beam,
        max_tokens_per_second=args.max_tokens_per_second,
    )
    wav, fs = soundfile.read(args.wav, dtype="float32")
    stream(s2t, wav, fs, args.chunk_ms, args.realtime)


if __name__ == "__main__":
    main()
