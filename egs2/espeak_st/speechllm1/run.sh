#!/usr/bin/env bash
# X->En speech translation: espeak-ng speech in German, Spanish, French and Italian with
# English targets from a synchronous grammar (local/data.sh); a small from-scratch causal
# LM (stages 6-8) behind a CTC-compressed conformer, CTC on the source transcripts.
# BLEU (sacrebleu) per source language. CPU end to end: ./run.sh
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
    --local_data_opts "--target en" \
    --llm scratch \
    --llm_vocab_size 500 \
    --lm_config "${lm_config}" \
    --speechllm_config "${speechllm_config}" \
    --inference_config "${inference_config}" \
    --inference_model valid.acc.ave.pth \
    --batch_size 8 \
    --scoring_metrics "bleu" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
