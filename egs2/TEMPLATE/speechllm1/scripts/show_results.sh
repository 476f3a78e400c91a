#!/usr/bin/env bash
# Regenerate RESULTS.md of speech-LLM experiments from their score.json files
# (python -m espnet_speechllm.recipe.results) and print it, like stage 13 does.
set -euo pipefail

out=""
help_message=$(cat << EOF2
Usage: $0 [--out FILE] EXP [EXP ...]
  EXP: an experiment dir (exp/speechllm_x, holding decode_*/<test set>/score_*/score.json)
       or a dir of them (exp): its sub-dirs with scores are used.
  --out FILE: write all experiments into FILE (default: EXP/RESULTS.md for each EXP).
Run from the recipe dir, e.g. scripts/show_results.sh exp
EOF2
)

root=$(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)
. "${root}/egs2/TEMPLATE/speechllm1/utils/parse_options.sh"
if [ $# -eq 0 ]; then
    echo "${help_message}" >&2
    exit 1
fi
. "${root}/egs2/TEMPLATE/speechllm1/path.sh"

has_scores() { compgen -G "$1/decode_*/*/score_*/score.json" > /dev/null; }

exps=()
for d in "$@"; do
    d=${d%/}
    if [ ! -d "${d}" ]; then
        echo "$0: ${d}: no such directory" >&2
        exit 1
    fi
    if has_scores "${d}"; then
        exps+=("${d}")
    else
        for sub in "${d}"/*/; do
            sub=${sub%/}
            if has_scores "${sub}"; then exps+=("${sub}"); fi
        done
    fi
done
if [ ${#exps[@]} -eq 0 ]; then
    echo "$0: no decode_*/*/score_*/score.json under $* (run stages 12-13 first)" >&2
    exit 1
fi

if [ -n "${out}" ]; then
    _exp_args=()
    for e in "${exps[@]}"; do _exp_args+=(--exp "${e}"); done
    python3 -m espnet_speechllm.recipe.results "${_exp_args[@]}" --out "${out}" >&2
    cat "${out}"
else
    for e in "${exps[@]}"; do
        python3 -m espnet_speechllm.recipe.results --exp "${e}" --out "${e}/RESULTS.md" >&2
        cat "${e}/RESULTS.md"
    done
fi
