#!/usr/bin/env bash
# Usage: utils/run_jobs.sh [--max_jobs M] [JOB=1:N] LOG COMMAND...   (local run.pl)
exec python3 -m espnet_speechllm.recipe.run_jobs "$@"
