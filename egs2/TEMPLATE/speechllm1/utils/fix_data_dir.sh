#!/usr/bin/env bash
# Usage: utils/fix_data_dir.sh DIR   (originals and dropped ids go to DIR/.backup/)
exec python3 -m espnet_speechllm.recipe.kaldi_dir fix "$@"
