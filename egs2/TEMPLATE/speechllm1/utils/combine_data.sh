#!/usr/bin/env bash
# Kaldi's utils/combine_data.sh command line, run by our Python (espnet_speechllm/recipe/kaldi_utils.py);
# python3 -m espnet_speechllm.recipe.kaldi_utils combine_data --help lists the options.
# Called from a shell where path.sh was not sourced: find this checkout's Python and package.
[ -f "$(dirname "$0")/../path.sh" ] && . "$(dirname "$0")/../path.sh"
exec python3 -m espnet_speechllm.recipe.kaldi_utils combine_data "$@"
