#!/usr/bin/env bash
# Multilingual ASR: espeak-ng speech in German, Spanish, French and Italian, one model
# for all (sentences of a synchronous grammar, local/data.sh); a small from-scratch causal
# LM (stages 6-8) on the four languages behind a CTC-compressed conformer.
# WER and CER per language. CPU end to end: ./run.sh
set -euo pipefail

train_set=train
valid_set=dev
test_sets="test_de test_es test_fr test_it"

speechllm_config=conf/train_speechllm.yaml
inference_config=conf/decode_speechllm.yaml
lm_config=conf/train_lm.yaml

./speechllm.sh \
    --nj 2 \
    --inference_nj 2 \
    --local_data_opts "--target src" \
    --llm scratch \
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
