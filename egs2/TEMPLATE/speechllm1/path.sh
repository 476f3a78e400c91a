# Environment of the speechllm1 recipes (sourced by run.sh and speechllm.sh). Recipes
# link this file as egs2/<corpus>/speechllm1/path.sh: the repository root is three levels up.
MAIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export MAIN_ROOT
export LC_ALL=C  # data dirs are sorted in byte order
export PYTHONUNBUFFERED=1  # logs show progress as it happens
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}  # models come from local dirs, never the Hub
# The plugin runs from this checkout whether or not it is pip-installed.
export PYTHONPATH="${MAIN_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x "${MAIN_ROOT}/.venv/bin/python3" ]; then
    export PATH="${MAIN_ROOT}/.venv/bin:${PATH}"
fi
# sclite (Debian package sctk) is not on PATH by default.
export PATH="${PWD}/utils:/usr/lib/sctk/bin:${PATH}"
