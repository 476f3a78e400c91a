#!/usr/bin/env bash
# Usage: utils/validate_data_dir.sh DIR [--need wav.scp text ...]   (exit 1 listing problems)
exec python3 -m espnet_speechllm.recipe.kaldi_dir validate "$@"
