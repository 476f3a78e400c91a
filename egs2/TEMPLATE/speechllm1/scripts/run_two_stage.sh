#!/usr/bin/env bash
# Speech-LLaMA two-stage training in one command, from a recipe dir (./run.sh must exist):
#   stage A: --stage_a_config (LLM frozen) trains the audio encoder + CTC compressor;
#   stage B: --stage_b_config (e.g. + LoRA) starts from stage A's model (--init_param),
#            then decodes and scores (stages 11-13).
# Usage: scripts/run_two_stage.sh --stage_a_config conf/tuning/A.yaml \
#            --stage_b_config conf/tuning/B.yaml [--stage_a_tag T] [--stage_b_tag T]
#            [--speechllm_args "..."] [--expdir exp] [other run.sh / speechllm.sh options]
set -euo pipefail
stage_a_config=""; stage_b_config=""; stage_a_tag=""; stage_b_tag=""
speechllm_args=""; expdir=exp; init_model=valid.acc.ave.pth; rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --stage_a_config|--stage_b_config|--stage_a_tag|--stage_b_tag|--speechllm_args|--expdir|--init_model)
            [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 2; }
            declare "${1#--}=$2"; shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
[ -n "${stage_a_config}" ] && [ -n "${stage_b_config}" ] || {
    echo "$0: --stage_a_config and --stage_b_config are required" >&2; exit 2; }
if [ -f ./path.sh ]; then . ./path.sh; fi
tag_of() { python -m espnet_speechllm.recipe.config_query tag "$1"; }
stage_a_tag=${stage_a_tag:-$(tag_of "${stage_a_config}")}
stage_b_tag=${stage_b_tag:-$(tag_of "${stage_b_config}")}

echo "$0: stage A: ${stage_a_config} -> ${expdir}/${stage_a_tag}"
./run.sh --stage 9 --stop_stage 11 --expdir "${expdir}" --speechllm_config "${stage_a_config}" \
    --speechllm_tag "${stage_a_tag}" --speechllm_args "${speechllm_args}" ${rest[@]+"${rest[@]}"}
# Stage B starts from all of stage A, CTC-pretrained encoder included: no stage 9 there.
rest_b=(); skip=false
for a in ${rest[@]+"${rest[@]}"}; do
    "${skip}" && { skip=false; continue; }
    case "${a}" in --ctc_pretrain_config|--ctc_pretrain_exp) skip=true ;; *) rest_b+=("${a}") ;; esac
done
init=${expdir}/${stage_a_tag}/${init_model}
[ -f "${init}" ] || { echo "$0: stage A left no ${init}" >&2; exit 1; }
echo "$0: stage B: ${stage_b_config} -> ${expdir}/${stage_b_tag} (init: ${init})"
./run.sh --stage 11 --expdir "${expdir}" --speechllm_config "${stage_b_config}" \
    --speechllm_tag "${stage_b_tag}" --speechllm_args "${speechllm_args} --init_param ${init}" \
    ${rest_b[@]+"${rest_b[@]}"}
