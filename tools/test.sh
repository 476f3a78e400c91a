#!/usr/bin/env bash
# Set up (if needed) and run the test suite offline. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
exec .venv/bin/python -m pytest tests -q "$@"
