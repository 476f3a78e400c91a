#!/usr/bin/env bash
# Build data/{train,dev,test} (unpaired ASR data: the espeak_en corpus, speech + transcript)
# and the chat test sets data/test_{qa,inst,multiturn,tasks} (espeak-ng speech of texts
# that <repository root>/local/chat_items.py writes, with answer / history / instruction files).
# Needs `apt-get install bible-kjv espeak-ng sox`. Deterministic for a --seed.
set -euo pipefail

log() {
    echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2
}

nj=2
seed=0
num_train=2000     # ASR corpus (espeak_en's generator)
num_dev=200
num_test=200
num_qa=150
num_inst=100
num_multiturn=60
num_tasks=60       # per instruction (translate / summarise / repeat)
downloads=downloads
data=data

if [ -f ./path.sh ]; then . ./path.sh; fi
. utils/parse_options.sh
# The corpus tools shared by recipes: <repository root>/local/.
shared_local=${MAIN_ROOT:-$(cd "$(dirname "$0")/../../../.." && pwd)}/local
[ $# -ne 0 ] && { echo "Usage: $0 [--nj 2] [--seed 0] [--num_train 2000] [--num_qa 150] ..." >&2; exit 1; }

mkdir -p "${data}" "${downloads}"
_data=$(cd "${data}" && pwd) _downloads=$(cd "${downloads}" && pwd)
log "ASR corpus (espeak_en's local/data.sh, run in its recipe dir) -> ${data}/{train,dev,test}"
(cd ../../espeak_en/speechllm1 && local/data.sh --nj "${nj}" --seed "${seed}" \
    --num_train "${num_train}" --num_dev "${num_dev}" --num_test "${num_test}" --data "${_data}" --downloads "${_downloads}/espeak_en")

settings="seed=${seed} qa=${num_qa} inst=${num_inst} multiturn=${num_multiturn} tasks=${num_tasks}"
stamp=${data}/.espeak_chat_settings
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${settings}" ]; then
    log "chat test sets already built with these settings (${stamp}); skipping"
    exit 0
fi
rm -rf "${stamp}" "${downloads}/chat"
python "${shared_local}/chat_items.py" --out_dir "${downloads}/chat/items" --seed "${seed}" \
    --num_qa "${num_qa}" --num_inst "${num_inst}" --num_multiturn "${num_multiturn}" \
    --num_tasks "${num_tasks}"
for x in test_qa test_inst test_multiturn test_tasks; do
    rm -rf "${data:?}/${x}"
    python "${shared_local}/espeak_synth.py" --items "${downloads}/chat/items/${x}.tsv" \
        --wav_dir "${downloads}/chat/wav/${x}" --data_dir "${data}/${x}" --nj "${nj}"
    for f in answer history instruction; do
        [ -f "${downloads}/chat/items/${x}.${f}" ] && cp "${downloads}/chat/items/${x}.${f}" "${data}/${x}/${f}"
    done
    python -m espnet_speechllm.recipe.kaldi_dir validate "${data}/${x}" --need wav.scp text
    log "${x}: $(wc -l < "${data}/${x}/text") utts"
done
echo "${settings}" > "${stamp}"
