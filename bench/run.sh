#!/usr/bin/env bash
# Run one benchmark from anywhere: bench/run.sh <name> [args...]
#   names: bf16 decode_espnet_paths compression mfu scaling streaming train_step train_peak_rss (any bench/<name>.py)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 1 ] || [ ! -f "${root}/bench/$1.py" ]; then
    echo "usage: $0 <name> [args...]; names: $(cd "${root}/bench" && ls *.py | grep -v -e '^__' -e common -e model_configs -e espnet_models | sed 's/\.py$//' | tr '\n' ' ')" >&2
    exit 2
fi
name=$1
shift
cd "${root}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error PYTHONPATH="${root}${PYTHONPATH:+:${PYTHONPATH}}"
py="${root}/.venv/bin/python"
[ -x "${py}" ] || py=python3
exec "${py}" -m "bench.${name}" "$@"
