#!/usr/bin/env bash
# Build data/{train_nodev,train_dev,test} from mini_an4 (7 utterances of real speech).
# train_dev is the first training utterance, train_nodev the other four.
set -euo pipefail

log() {
    echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2
}

if [ $# -ne 0 ]; then
    log "Usage: $0 (no options; the corpus path is MINI_AN4 in db.sh)"
    exit 1
fi

. ./db.sh

tsv=${MINI_AN4}/utterances.tsv
if [ ! -f "${tsv}" ]; then
    log "Error: ${tsv} not found: set MINI_AN4 in db.sh (or export it) to the mini_an4 dir"
    exit 1
fi
corpus=$(cd "${MINI_AN4}" && pwd)

# make_dir <dir> <awk condition on NR (row number among train rows) and $2 (split)>
make_dir() {
    local dir=$1 cond=$2
    mkdir -p "${dir}"
    # utterances.tsv: utt_id split speaker wav sph duration_s text (header first)
    awk -F '\t' -v root="${corpus}" -v dir="${dir}" '
        NR > 1 { ntrain += ($2 == "train") }
        NR > 1 && ('"${cond}"') {
            print $1, root "/" $4 > (dir "/wav.scp.tmp")
            print $1, $7 > (dir "/text.tmp")
            print $1, $3 > (dir "/utt2spk.tmp")
            print $1, $6 > (dir "/utt2dur.tmp")
        }' "${tsv}"
    for f in wav.scp text utt2spk utt2dur; do
        LC_ALL=C sort "${dir}/${f}.tmp" > "${dir}/${f}"
        rm "${dir}/${f}.tmp"
    done
    # spk2utt: one line per speaker, utterances in sorted order
    awk '{ u[$2] = u[$2] " " $1 } END { for (s in u) print s u[s] }' "${dir}/utt2spk" \
        | LC_ALL=C sort > "${dir}/spk2utt"
    log "${dir}: $(wc -l < "${dir}/text") utts"
}

make_dir data/train_dev '$2 == "train" && ntrain == 1'
make_dir data/train_nodev '$2 == "train" && ntrain > 1'
make_dir data/test '$2 == "test"'
