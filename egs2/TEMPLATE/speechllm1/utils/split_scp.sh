#!/usr/bin/env bash
# Usage: utils/split_scp.sh SCP N OUT_PREFIX   (writes OUT_PREFIX.1 .. OUT_PREFIX.N)
exec python3 -m espnet_speechllm.recipe.kaldi_dir split "$@"
