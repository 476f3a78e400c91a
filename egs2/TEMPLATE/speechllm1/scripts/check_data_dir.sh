#!/usr/bin/env bash
# Validate Kaldi-style data dirs (python -m espnet_speechllm.recipe.kaldi_dir validate)
# and print a one-line summary of each: utterances, speakers, duration, words.
set -euo pipefail

need="wav.scp text"
fix=false
fs=16000
help_message=$(cat << EOF2
Usage: $0 [--need "wav.scp text"] [--fix false] [--fs 16000] DIR [DIR ...]
  --need: files each DIR must hold (default: "${need}").
  --fix true: first repair each DIR in place (sort, drop utterances missing from a file
              or with empty text, rebuild spk2utt; originals in DIR/.backup).
  --fs: sample rate for the duration of DIR/utt2num_samples (utt2dur is used otherwise).
Exit status 1 if any DIR is invalid; every problem is listed as file:line.
Run from the recipe dir, e.g. scripts/check_data_dir.sh data/train dump/raw/train
EOF2
)

root=$(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)
. "${root}/egs2/TEMPLATE/speechllm1/utils/parse_options.sh"
if [ $# -eq 0 ]; then
    echo "${help_message}" >&2
    exit 1
fi
. "${root}/egs2/TEMPLATE/speechllm1/path.sh"

n_bad=0
for d in "$@"; do
    d=${d%/}
    if "${fix}"; then
        python3 -m espnet_speechllm.recipe.kaldi_dir fix "${d}" || { n_bad=$((n_bad + 1)); continue; }
    fi
    # shellcheck disable=SC2086
    if ! python3 -m espnet_speechllm.recipe.kaldi_dir validate "${d}" --need ${need} > /dev/null; then
        n_bad=$((n_bad + 1))
        continue
    fi
    utts=$(grep -c . "${d}/segments" 2> /dev/null || grep -c . "${d}/wav.scp" 2> /dev/null || grep -c . "${d}/text" 2> /dev/null || echo 0)
    spks="-"
    [ -f "${d}/spk2utt" ] && spks=$(grep -c . "${d}/spk2utt" || true)
    dur="? s"
    if [ -f "${d}/utt2num_samples" ]; then
        dur=$(awk -v fs="${fs}" '{ s += $2 / fs } END { print s }' "${d}/utt2num_samples")
    elif [ -f "${d}/utt2dur" ]; then
        dur=$(awk '{ s += $2 } END { print s }' "${d}/utt2dur")
    fi
    [ "${dur}" != "? s" ] && dur=$(awk -v s="${dur}" 'BEGIN {
        if (s >= 3600) printf "%.2f h", s / 3600; else printf "%.1f s", s }')
    words="-"
    [ -f "${d}/text" ] && words=$(awk '{ n += NF - 1 } END { print n + 0 }' "${d}/text")
    echo "${d}: OK: ${utts} utts, ${spks} speakers, ${dur}, ${words} words"
done
if [ "${n_bad}" -gt 0 ]; then
    echo "$0: ${n_bad} of $# data dir(s) invalid" >&2
    exit 1
fi
