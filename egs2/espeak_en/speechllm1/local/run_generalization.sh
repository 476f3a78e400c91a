#!/usr/bin/env bash
# Generalization study of the Whisper + SmolLM2 speech-LLM (reduced budget): each system
# trains 1 epoch on a 1600-utterance training set and decodes (greedy) the test sets of
# run_whisper.sh (test and test_ood halved: test100, test_ood100 = every 2nd utterance);
# Whisper alone decodes the same sets. Run after
#   ./run_whisper.sh --system lora --stop_stage 6 --local_data_opts "--ood true --real true --nonspeech true --extra_text true"
# Usage: local/run_generalization.sh <system> [run.sh options]
#   systems (each = conf + training set):
#     enc_lora      conf/comprehensive/enc_lora_llm_lora.yaml    train_kjv1600 (KJV only)
#     enc_frozen    conf/comprehensive/enc_frozen_llm_lora.yaml  train_kjv1600
#     <name>        any other conf/comprehensive/<name>.yaml on train_kjv1600, e.g.
#                   adapter_dws_mlp, adapter_conv1d_transformer, matching_loss, enc_full_llm_lora
#     mix_<enc>     the <enc> conf on train_mix1600 (800 KJV + 800 fortunes/Devil's Dictionary)
#     mixns_<enc>   the <enc> conf on train_mix1600_ns0.1 (+ 10% non-speech, reference "")
#     hint          conf/tuning/train_speechllm_whisper_smollm2_hint.yaml (encoder frozen) on
#                   train_mix800_ns0.1 (every 2nd of train_mix1600_ns0.1): Whisper tiny.en's 1-best
#                   of every set as a text hint next to the audio (speechllm.sh --whisper_hint
#                   true, in dump_hint/)
#     aug_<enc>     the <enc> conf on train_kjv1600 with ESPnet's noise + RIR augmentation
#                   (data/augment/{noise,rir}.scp of local/data.sh --augment true; noise on 50% of
#                   the utterances at 5-20 dB SNR, reverberation on 30%)
#     hint_short    hint on train_mix800_ns0.1 + 100 one- and two-word utterances (every 2nd of
#                   data/train_short; needs local/data.sh --short true), also decoding dev_short
#                   (50 short dev-voice utterances: the check that short speech is not taken for
#                   non-speech, on a set that is not a test set)
#     hint_short_nsp hint_short whose hint also gives Whisper's no-speech probability (one
#                   decimal; speechllm.sh --whisper_hint_no_speech true, in dump_hint_nsp/)
#     hint_short200_nsp hint_short_nsp with all 200 short utterances (train_mix800_ns0.1_short200)
#     rir_<system>  <system> with ESPnet's reverberation on 50% of the training utterances
#                   (data/augment/rir.scp of local/data.sh --augment true)
#     noise_<system> <system> with ESPnet's noise (data/augment/noise.scp) on 50% of them, 5-20 dB
#     pad_<system>  <system> with 0-0.5 s of room-like silence before and after 50% of the
#                   training utterances (--speech_pad_range 0.0_0.5, train/silence_pad.py); goes
#                   before rir_ / noise_ (pad_noise_hint_short200_nsp)
#     flite_<system> <system> on its training set + data/train_flite (300 utterances read by flite
#                   voices, built from real speakers; local/data.sh --flite true); goes before
#                   rir_ / noise_ (flite_noise_hint_short200_nsp)
#     <system>_ep<N> <system> trained N epochs (exp/gen_<system>_ep<N>); when exp/gen_<system>
#                   holds a finished run, a copy of it resumes from its checkpoint.pth (ESPnet's
#                   --resume: model, optimizer, scheduler and reporter carry on) and trains only
#                   the further epochs
#     whisper       Whisper tiny.en alone (scripts/run_whisper_baseline.sh)
# A hint system's decode with Whisper's 1-best where it wrote "" but Whisper's no-speech
# probability is below T: add --whisper_fallback_threshold T (stage 12 writes it, 13 scores it).
# Its decode with --empty_threshold set on held-out non-speech (the p("") that keeps 98% of it
# ""): add --empty_threshold_set dev_nonspeech (after local/data.sh --nonspeech_dev true).
# Its decode with a gate over the LLM's p("") and Whisper's no-speech probability, fitted on
# held-out sets: add --empty_gate_nonspeech_set dev_nonspeech --empty_gate_speech_sets dev
# (stage 12 writes <inference_tag>_emptygate, 13 scores it). Its choice, per utterance, between
# the LLM's and Whisper's 1-best by both models' scores, the weight fitted on dev: add
# --whisper_select_sets dev (stage 12 writes <inference_tag>[_emptygate]_select).
set -euo pipefail
system=$1; shift
test_sets="test100 test_ood100 test_real test_nonspeech"
root=../../..
. ./path.sh
# run.sh options this script acts on too (the last value wins, as in speechllm.sh): --dumpdir
# and --test_sets (it dumps and checks those sets there), and the held-out set stage 12
# calibrates on (--empty_threshold_set / --empty_gate_nonspeech_set: it dumps that set once).
args=("$@"); opt_dumpdir=""; opt_test_sets=""; calib=""
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --dumpdir) opt_dumpdir=${args[i + 1]} ;;
        --test_sets) opt_test_sets=${args[i + 1]} ;;
        --empty_threshold_set | --empty_gate_nonspeech_set) calib=${args[i + 1]} ;;
    esac
done

# The training sets (data/, once): every 2nd KJV training utterance; every 4th + every 2nd
# extra-text utterance; that + 10% non-speech.
make_sets() {
    [ -f data/train_mix800_ns0.1/text ] && return 0
    for x in test test_ood; do
        python -m espnet_speechllm.recipe.kaldi_dir subset data/${x} data/${x}100 \
            --ids <(awk 'NR % 2 == 1' data/${x}/wav.scp)
    done
    python -m espnet_speechllm.recipe.kaldi_dir subset data/train data/train_kjv1600 \
        --ids <(awk 'NR % 2 == 1' data/train/wav.scp)
    python -m espnet_speechllm.recipe.kaldi_dir subset data/train data/train_kjv800 \
        --ids <(awk 'NR % 4 == 1' data/train/wav.scp)
    python -m espnet_speechllm.recipe.kaldi_dir subset data/train_extra data/train_extra800 \
        --ids <(awk 'NR % 2 == 1' data/train_extra/wav.scp)
    python -m espnet_speechllm.recipe.kaldi_dir combine data/train_mix1600 data/train_kjv800 data/train_extra800
    python "${root}/local/mix_nonspeech.py" --train data/train_mix1600 --nonspeech data/nonspeech_train \
        --ratio 0.1 --seed 0 --out data/train_mix1600_ns0.1
    python -m espnet_speechllm.recipe.kaldi_dir subset data/train_mix1600_ns0.1 data/train_mix800_ns0.1 \
        --ids <(awk 'NR % 2 == 1' data/train_mix1600_ns0.1/wav.scp)
}

# hint_short's training set: train_mix800_ns0.1 + every 2nd short utterance; hint_short200_nsp's:
# + all of them.
make_short_set() {
    [ -f data/train_mix800_ns0.1_short200/text ] && return 0
    if [ ! -f data/train_short/text ]; then
        echo "$0: no data/train_short: run local/data.sh --short true first" >&2
        exit 2
    fi
    python -m espnet_speechllm.recipe.kaldi_dir subset data/train_short data/train_short100 \
        --ids <(awk 'NR % 2 == 1' data/train_short/wav.scp)
    python -m espnet_speechllm.recipe.kaldi_dir combine data/train_mix800_ns0.1_short \
        data/train_mix800_ns0.1 data/train_short100
    python -m espnet_speechllm.recipe.kaldi_dir combine data/train_mix800_ns0.1_short200 \
        data/train_mix800_ns0.1 data/train_short
}

if [ "${system}" = whisper ]; then
    # Whisper decodes <dumpdir>/raw/<set> (stage 3's layout): make and dump the sets it lacks.
    make_sets
    dumpdir=${opt_dumpdir:-dump}; test_sets=${opt_test_sets:-${test_sets}}
    for x in ${test_sets}; do
        [ -f "${dumpdir}/raw/${x}/wav.scp" ] || python -m espnet_speechllm.recipe.format_wav_scp \
            --fs 16000 --nj 2 "data/${x}" "${dumpdir}/raw/${x}"
    done
    exec scripts/run_whisper_baseline.sh --test_sets "${test_sets}" --exp exp/gen_whisper_alone "$@"
fi
dumpdir=dump
tag=gen_${system}
epochs=1
if [[ "${system}" =~ ^(.+)_ep([0-9]+)$ ]]; then
    system=${BASH_REMATCH[1]}; epochs=${BASH_REMATCH[2]}
    src=exp/gen_${system}
    if [ ! -d "exp/${tag}" ] && [ -f "${src}/checkpoint.pth" ]; then
        # What ESPnet's resume reads: checkpoint.pth, and the kept <N>epoch.pth of the
        # best-model bookkeeping; the log and plots so far.
        mkdir -p "exp/${tag}"
        cp -p "${src}"/{checkpoint.pth,config.yaml,train.log} "${src}"/*epoch.pth "exp/${tag}/"
        [ -d "${src}/images" ] && cp -rp "${src}/images" "exp/${tag}/"
        echo "$0: exp/${tag} resumes from ${src}/checkpoint.pth"
    fi
fi
train_args="--max_epoch ${epochs}"
hint_opts=()
flite=false
if [[ "${system}" == flite_* ]]; then
    system=${system#flite_}; flite=true
    [ -f data/train_flite/text ] || { echo "$0: run local/data.sh --flite true first" >&2; exit 2; }
fi
if [[ "${system}" == pad_* ]]; then
    system=${system#pad_}; train_args+=" --speech_pad_range 0.0_0.5 --speech_pad_apply_prob 0.5"
fi
case "${system}" in
    rir_*) system=${system#rir_}; train_args+=" --rir_scp data/augment/rir.scp --rir_apply_prob 0.5" ;;
    noise_*) system=${system#noise_}
             train_args+=" --noise_scp data/augment/noise.scp --noise_apply_prob 0.5 --noise_db_range 5_20" ;;
esac
if [[ "${train_args}" == *augment/* ]] && [ ! -f data/augment/rir.scp ]; then
    echo "$0: run local/data.sh --augment true first" >&2; exit 2
fi
case "${system}" in
    hint) train_set=train_mix800_ns0.1; enc=hint; dumpdir=dump_hint ;;
    hint_short) train_set=train_mix800_ns0.1_short; enc=hint; dumpdir=dump_hint
                test_sets="${test_sets} dev_short" ;;
    hint_short_nsp) train_set=train_mix800_ns0.1_short; enc=hint; dumpdir=dump_hint_nsp
                    test_sets="${test_sets} dev_short"; hint_opts=(--whisper_hint_no_speech true) ;;
    hint_short200_nsp) train_set=train_mix800_ns0.1_short200; enc=hint; dumpdir=dump_hint_nsp
                       test_sets="${test_sets} dev_short"; hint_opts=(--whisper_hint_no_speech true) ;;
    mixns_*) train_set=train_mix1600_ns0.1; enc=${system#mixns_} ;;
    aug_*) train_set=train_kjv1600; enc=${system#aug_}
           train_args+=" --noise_scp data/augment/noise.scp --noise_apply_prob 0.5 --noise_db_range 5_20"
           train_args+=" --rir_scp data/augment/rir.scp --rir_apply_prob 0.3"
           [ -f data/augment/noise.scp ] || { echo "$0: run local/data.sh --augment true first" >&2; exit 2; } ;;
    mix_*) train_set=train_mix1600; enc=${system#mix_} ;;
    *) train_set=train_kjv1600; enc=${system} ;;
esac
dumpdir=${opt_dumpdir:-${dumpdir}}; test_sets=${opt_test_sets:-${test_sets}}
case "${enc}" in
    enc_lora) conf=${root}/conf/comprehensive/enc_lora_llm_lora.yaml ;;
    enc_frozen) conf=${root}/conf/comprehensive/enc_frozen_llm_lora.yaml ;;
    hint) conf=conf/tuning/train_speechllm_whisper_smollm2_hint.yaml ;;
    *) conf=${root}/conf/comprehensive/${enc}.yaml
       [ -f "${conf}" ] || { echo "$0: unknown system ${system} (no ${conf})" >&2; exit 2; } ;;
esac
make_sets
[[ "${system}" == hint_short* ]] && make_short_set
# flite_: the set's dump (and, for a hint system, its Whisper hints) = the system's set's +
# train_flite's, combined, so that Whisper decodes only the 300 new utterances.
if "${flite}"; then
    base=${train_set}; train_set=${base}_flite
    if [ ! -f "${dumpdir}/raw/${train_set}/wav.scp" ]; then
        for x in "${base}" train_flite; do
            [ -f "${dumpdir}/raw/${x}/wav.scp" ] || ./run_whisper.sh --system lora --stage 3 --stop_stage 4 \
                --dumpdir "${dumpdir}" --train_set "${x}" --test_sets "${test_sets}"
        done
        if [[ "${dumpdir}" == dump_hint* ]]; then
            for x in "${base}" train_flite; do
                ./run_whisper.sh --system lora --stage 8 --stop_stage 8 --dumpdir "${dumpdir}" --train_set "${x}" \
                    --test_sets "${test_sets}" --whisper_hint true ${hint_opts[@]+"${hint_opts[@]}"} \
                    --inference_nj 2
            done
        fi
        python -m espnet_speechllm.recipe.kaldi_dir combine "${dumpdir}/raw/${train_set}" \
            "${dumpdir}/raw/${base}" "${dumpdir}/raw/train_flite"
    fi
fi
# Once per dump dir, training set and test sets, so that systems started later (side by
# side) reuse it.
dumped() {
    local d
    for d in "${train_set}" ${test_sets}; do [ -f "${dumpdir}/raw/${d}/wav.scp" ] || return 1; done
}
# --system lora: run_whisper.sh's options without its hint system's (the conf, training set
# and hints are this script's).
# The held-out set stage 12 calibrates on (e.g. dev_nonspeech of local/data.sh --nonspeech_dev
# true): dump it once.
if [ -n "${calib}" ] && [ ! -f "${dumpdir}/raw/${calib}/wav.scp" ]; then
    [ -f "data/${calib}/wav.scp" ] || { echo "$0: no data/${calib}: run local/data.sh --nonspeech_dev true" >&2; exit 2; }
    python -m espnet_speechllm.recipe.format_wav_scp --fs 16000 --nj 2 "data/${calib}" "${dumpdir}/raw/${calib}"
fi
dumped || ./run_whisper.sh --system lora --stage 3 --stop_stage 4 --dumpdir "${dumpdir}" \
    --train_set "${train_set}" --test_sets "${test_sets}"
opts=(--system lora --dumpdir "${dumpdir}" --skip_packing true --speechllm_config "${conf}"
      --train_set "${train_set}" --speechllm_stats_dir "exp/speechllm_stats_smollm2_${train_set}"
      --speechllm_tag "${tag}" --speechllm_args "${train_args}" --inference_nj 1 --test_sets "${test_sets}")
# Stage 8 of the hint systems: Whisper's 1-best of every set as its instruction, once per set
# (a set of dump_hint/ whose instruction file covers it is kept).
[[ "${dumpdir}" == dump_hint* ]] && opts+=(--whisper_hint true ${hint_opts[@]+"${hint_opts[@]}"})
./run_whisper.sh --stage 8 --stop_stage 13 "${opts[@]}" "$@"
