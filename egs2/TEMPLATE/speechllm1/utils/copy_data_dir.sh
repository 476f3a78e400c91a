#!/usr/bin/env bash
# Kaldi's utils/copy_data_dir.sh command line, run by our Python (espnet_speechllm/recipe/kaldi_utils.py);
# python3 -m espnet_speechllm.recipe.kaldi_utils copy_data_dir --help lists the options.
# Called from a shell where path.sh was not sourced: find this checkout's Python and package.
[ -f "$(dirname "$0")/../path.sh" ] && . "$(dirname "$0")/../path.sh"
exec python3 -m espnet_speechllm.recipe.kaldi_utils copy_data_dir "$@"
