#!/usr/bin/env bash
# Usage: utils/split_scp.sh SCP N OUT_PREFIX   (writes OUT_PREFIX.1 .. OUT_PREFIX.N)
# Called from a shell where path.sh was not sourced: find this checkout's Python and package.
[ -f "$(dirname "$0")/../path.sh" ] && . "$(dirname "$0")/../path.sh"
exec python3 -m espnet_speechllm.recipe.kaldi_dir split "$@"
