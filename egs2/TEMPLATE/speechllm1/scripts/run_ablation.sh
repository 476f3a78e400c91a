#!/usr/bin/env bash
# Speech-LLaMA ablation (arXiv 2307.03917) from a recipe dir: train, decode and score each
# system on the same data with a reduced budget, then write ONE table (WER S/D/I, or BLEU /
# chrF for speech translation; params, train / decode wall time, mean prefix ratio) with
# espnet_speechllm.recipe.results.
# Systems (conf/tuning/ of the recipe):
#   e0 conv compressor | e1 CTC blank_removal | e2 e1 + non-causal prefix
#   e3 CTC frame_averaging | e4 e3 + LoRA (stage B, --init_param e3) | e5 e3 + non-causal
#   e6 e5 + LoRA (stage B, --init_param e5) | dec decoder-only from scratch
#   b1 ESPnet seq2seq (--model_type seq2seq) | b2 b1's n-best rescored by the LLM
# LLM-ASR by prompting (arXiv 2307.11795): s<ms>f / s<ms>l, <ms> in 80 160 240 480 960:
#   frame stacking to that stride over an 80 ms conformer, LLM frozen (f) or LoRA (l).
# CTC pre-training (speechllm.sh stage 9): the stride systems always start from the
# 80 ms conformer of conf/tuning/train_ctc_conformer80ms.yaml; with --ctc_pretrain true
# e0-e3, e5 and b1 start from the 60 ms one of conf/tuning/train_ctc_conformer.yaml
# (Speech-LLaMA pre-trains its CTC compressor). dec (from scratch) and stage-B systems never.
# Usage: scripts/run_ablation.sh [--systems "e0 e1 ..."] [--max_epoch 3]
#            [--train_subset 1000] [--rescore_weight 0.3] [--prefix abl]
#            [--ctc_pretrain false] [--inference_config conf/decode_speechllm_greedy.yaml]
#            [run.sh options]
# Speech-LLM systems decode with --inference_config (greedy by default: not every system
# has the CTC head that joint CTC/LLM decoding needs), B1 with conf/decode_asr.yaml.
# Needs stages 1-8 done (dump/raw, the token list, exp/llm_<name>). "train s" is the training
# job's wall time (train.log), "decode s" stage 12's (python start-up, decoding, and for B1
# the LLM rescoring too). Times are this machine's, shared with whatever else runs:
# compare rows of the same run only. A system with exp/<prefix>_<sys>/train_time is not
# retrained, one with decode_time (written once stage 13 scored it) not decoded again:
# delete the file to redo that step.
set -euo pipefail
systems="e3 e1 e0 b1 dec e4 e5 e2 e6"
max_epoch=3
train_subset=1000        # first N utterances of the training set (0: all)
rescore_weight=0.3
prefix=abl
ctc_pretrain=false
inference_config=conf/decode_speechllm_greedy.yaml
train_set=train
expdir=exp
rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --systems|--max_epoch|--train_subset|--rescore_weight|--prefix|--train_set|--expdir|--ctc_pretrain|--inference_config)
            [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 2; }
            declare "${1#--}=$2"; shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
. ./path.sh
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (run_ablation) $*"; }
tuning=conf/tuning
declare -A config=(
    [e0]=train_speechllm_conformer_conv_frozenlm [e1]=train_speechllm_conformer_ctcblank_frozenlm
    [e2]=train_speechllm_conformer_ctcblank_frozenlm_noncausal
    [e3]=train_speechllm_conformer_ctcavg_frozenlm [e4]=train_speechllm_conformer_ctcavg_loralm
    [e5]=train_speechllm_conformer_ctcavg_frozenlm_noncausal
    [e6]=train_speechllm_conformer_ctcavg_loralm_noncausal
    [dec]=train_speechllm_conv2d_identity_randomlm [b1]=train_asr_conformer_transformer
)
declare -A stage_a=([e4]=e3 [e6]=e5)
declare -A sys_args=()     # extra training flags of a system
declare -A pretrain=()     # its stage-9 CTC pre-training config
for ms in 80 160 240 480 960; do
    for llm in f l; do
        config[s${ms}${llm}]=train_speechllm_conformer80ms_stack_frozenlm
        sys_args[s${ms}${llm}]="--compressor_conf stride=$((ms / 80))"
        pretrain[s${ms}${llm}]=${tuning}/train_ctc_conformer80ms.yaml
    done
    sys_args[s${ms}l]+=" --decoder_conf mode=lora"
done
if "${ctc_pretrain}"; then
    for sys in e0 e1 e2 e3 e5 b1; do pretrain[${sys}]=${tuning}/train_ctc_conformer.yaml; done
fi

train=${train_set}
if [ "${train_subset}" -gt 0 ]; then
    train=${train_set}_sub${train_subset}
    if [ ! -f dump/raw/${train}/wav.scp ]; then
        python -m espnet_speechllm.recipe.kaldi_dir subset "dump/raw/${train_set}" \
            "dump/raw/${train}" --first "${train_subset}"
    fi
fi
stats=${expdir}/${prefix}_stats_${train}
common=(--train_set "${train}" --expdir "${expdir}" --speechllm_stats_dir "${stats}")
if [ ! -f "${stats}/train/feats_stats.npz" ]; then
    log "stats of ${train} -> ${stats}"
    ./run.sh --stage 10 --stop_stage 10 "${common[@]}" \
        --speechllm_config "${tuning}/${config[e3]}.yaml" ${rest[@]+"${rest[@]}"}
fi

rows=()
run_system() {  # run.sh failures return 1 here, so one failed system leaves the others
    local sys=$1 tag=${prefix}_$1 sargs="--max_epoch ${max_epoch}" itag=decode_speechllm_valid.acc.ave
    [ -n "${sys_args[${sys}]:-}" ] && sargs+=" ${sys_args[${sys}]}"
    local opts=("${common[@]}" --speechllm_config "${tuning}/${config[${sys}]}.yaml" --speechllm_tag "${tag}"
                --inference_config "${inference_config}" --inference_tag "${itag}")
    if [ -n "${pretrain[${sys}]:-}" ]; then  # one pre-trained encoder per config and prefix
        local ptag; ptag=$(basename "${pretrain[${sys}]}" .yaml)
        opts+=(--ctc_pretrain_config "${pretrain[${sys}]}"
               --ctc_pretrain_exp "${expdir}/${prefix}_${ptag#train_}")
    fi
    if [ -n "${stage_a[${sys}]:-}" ]; then
        local init=${expdir}/${prefix}_${stage_a[${sys}]}/valid.acc.ave.pth
        [ -f "${init}" ] || { log "${sys}: stage A ${init} missing (run ${stage_a[${sys}]} first)"; return 1; }
        sargs+=" --init_param ${init}"
    fi
    if [ "${sys}" = b1 ]; then
        itag=decode_asr_valid.acc.ave
        opts+=(--model_type seq2seq --inference_config conf/decode_asr.yaml --inference_tag "${itag}"
               --llm_rescore_weight "${rescore_weight}")
    fi
    local exp=${expdir}/${tag}
    if [ ! -f "${exp}/train_time" ]; then  # a finished system is not retrained
        log "${sys}: train (${max_epoch} epochs on ${train}) -> ${exp}"
        if [ -n "${pretrain[${sys}]:-}" ]; then  # stage 9 once per pre-training config
            ./run.sh --stage 9 --stop_stage 9 "${opts[@]}" --speechllm_args "${sargs}" \
                ${rest[@]+"${rest[@]}"} || { log "${sys}: stage 9 exited non-zero"; return 1; }
        fi
        ./run.sh --stage 11 --stop_stage 11 "${opts[@]}" --speechllm_args "${sargs}" \
            ${rest[@]+"${rest[@]}"} || log "${sys}: stage 11 exited non-zero"
        # The training job's own wall time (run_jobs' accounting line), not the shell's.
        grep -q "Ended (code 0)" "${exp}/train.log" && [ -f "${exp}/valid.acc.ave.pth" ] || return 1
        sed -n 's/.*elapsed time \([0-9]*\) seconds.*/\1/p' "${exp}/train.log" | tail -n 1 \
            > "${exp}/train_time"
    fi
    if [ ! -f "${exp}/decode_time" ]; then  # a scored system is not decoded again
        log "${sys}: decode"
        local t0=${SECONDS} dt
        # One retry: a stage also fails when speechllm.sh is edited while it runs.
        ./run.sh --stage 12 --stop_stage 12 "${opts[@]}" ${rest[@]+"${rest[@]}"} \
            || { t0=${SECONDS}; ./run.sh --stage 12 --stop_stage 12 "${opts[@]}" ${rest[@]+"${rest[@]}"}; } \
            || return 1
        dt=$((SECONDS - t0))
        ./run.sh --stage 13 --stop_stage 13 "${opts[@]}" ${rest[@]+"${rest[@]}"} \
            || ./run.sh --stage 13 --stop_stage 13 "${opts[@]}" ${rest[@]+"${rest[@]}"} || return 1
        echo "${dt}" > "${exp}/decode_time"
    fi
    rows+=(--row "${sys^^}=${expdir}/${tag}/${itag}")
    [ "${sys}" = b1 ] && rows+=(--row "B2=${expdir}/${tag}/${itag}_llmrescore${rescore_weight}")
    return 0
}
for sys in ${systems}; do
    [ "${sys}" = b2 ] && continue  # comes with b1
    [ -n "${config[${sys}]:-}" ] || { echo "$0: unknown system ${sys}" >&2; exit 2; }
    run_system "${sys}" || { log "${sys}: FAILED (logs under ${expdir}/${prefix}_${sys})"; continue; }
    python -m espnet_speechllm.recipe.results "${rows[@]}" --out "${expdir}/${prefix}/RESULTS.md"
done
[ -f "${expdir}/${prefix}/RESULTS.md" ] && cat "${expdir}/${prefix}/RESULTS.md"
