#!/usr/bin/env bash
# GPU check (issue 19, item 6): step time, tokens/s, MFU, peak memory of a 7B-LLaMA-sized
# LoRA speech-LLM in bf16 and RTFx of batched decoding, on one CUDA device in < 5 min.
# Without CUDA it prints SKIP and exits 0. --tiny: the same code path on the CPU, tiny sizes.
#   bench/gpu_check.sh [--tiny] [--batch 4] [--audio_s 10] [--decode_batch 16] [--gradient_checkpointing]
exec "$(dirname "$0")/run.sh" gpu_check "$@"
