#!/usr/bin/env bash
# Kaldi's utils/combine_data.sh command line, run by our Python (espnet_speechllm/recipe/kaldi_utils.py);
# python3 -m espnet_speechllm.recipe.kaldi_utils combine_data --help lists the options.
exec python3 -m espnet_speechllm.recipe.kaldi_utils combine_data "$@"
