#!/usr/bin/env bash
# CI smoke test of the speech-LLM recipe: mini_an4 (4 train, 1 dev, 2 test utterances of
# real speech), a tiny from-scratch causal LM (stages 5-8) behind a tiny CTC-compressed
# conformer (stages 10-11), decoding and scoring (stages 12-13), packing (14). About 2 minutes on a
# 2-core x86_64 CPU, most of it the start-up of ~10 Python processes (ESPnet's imports
# take ~10 CPU-seconds each). The model is far too small and too briefly trained to
# transcribe anything: this checks that every stage works, not accuracy.
#   ./run.sh                   stages 1-14 (--skip_packing true: 1-13)
#   ./run.sh --stage 14        pack exp/<tag>/*.zip again
set -euo pipefail

train_set=train_nodev
valid_set=train_dev
test_sets="test"

speechllm_config=conf/train_speechllm.yaml
inference_config=conf/decode_speechllm.yaml
lm_config=conf/train_lm.yaml

./speechllm.sh \
    --nj 2 \
    --inference_nj 2 \
    --llm scratch \
    --llm_vocab_size 300 \
    --lm_config "${lm_config}" \
    --speechllm_config "${speechllm_config}" \
    --inference_config "${inference_config}" \
    --inference_model valid.acc.ave.pth \
    --batch_size 1 \
    --scoring_metrics "wer cer" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
