#!/usr/bin/env bash
# Build data/{train,dev,test_<lang>}: sentences of a synchronous grammar in German,
# Spanish, French and Italian (local/parallel_grammar.py at the repository root), read by
# espeak-ng voices, with their English translations. Shared by espeak_st (--target en:
# text = English, text.src = source) and espeak_ml (--target src: text = source).
# Every data dir also gets utt2lang (German, ...), the {lang} field of the prompts.
# Needs `apt-get install espeak-ng sox` and espnet_speechllm importable.
set -euo pipefail

log() {
    echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2
}

target=en            # en: speech translation into English; src: transcripts (ASR)
langs=de,es,fr,it
nj=2                 # parallel synthesis jobs
seed=0               # same seed -> identical lists and audio
num_train=3200       # all languages together, dealt round-robin
num_dev=200          # all languages together
num_test=100         # per language; every test_<lang> has the same sentences
num_spk=8,2,3        # train,dev,test speakers per language
downloads=downloads/espeak_multi   # items and wavs (gitignored)
data=data
help_message="Usage: $0 [--target en|src] [--langs de,es,fr,it] [--nj 2] [--seed 0] [--num_train 3200] ..."

if [ -f ./path.sh ]; then . ./path.sh; fi
. utils/parse_options.sh
# The corpus tools shared by recipes: <repository root>/local/.
shared_local=${MAIN_ROOT:-$(cd "$(dirname "$0")/../../../.." && pwd)}/local

if [ $# -ne 0 ]; then
    echo "${help_message}" >&2
    exit 1
fi
case "${target}" in en|src) ;; *) log "Error: --target must be en or src, got '${target}'"; exit 1;; esac
for bin in espeak-ng sox; do
    if ! command -v "${bin}" > /dev/null; then
        log "Error: '${bin}' not found: apt-get install ${bin}"
        exit 1
    fi
done
if ! python -c "import espnet_speechllm" 2> /dev/null; then
    log "Error: cannot import espnet_speechllm: pip install -e the project root or set PYTHONPATH"
    exit 1
fi

sets="train dev"
for l in ${langs//,/ }; do sets+=" test_${l}"; done
# Everything that decides the output; a finished build with the same settings is kept.
settings="target=${target} langs=${langs} seed=${seed} num=${num_train},${num_dev},${num_test}"
settings+=" spk=${num_spk} downloads=${downloads}"
stamp=${data}/.espeak_multi_settings
already_built() {
    [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${settings}" ] || return 1
    for x in ${sets}; do  # also catches deleted wavs
        python -m espnet_speechllm.recipe.kaldi_dir validate "${data}/${x}" \
            --need wav.scp text utt2spk spk2utt utt2lang > /dev/null 2>&1 || return 1
    done
}
if already_built; then
    log "data already built with these settings (${stamp}); skipping"
    exit 0
fi
rm -rf "${stamp}" "${downloads}/wav" "${downloads}/items"
for x in ${sets}; do rm -rf "${data:?}/${x}"; done

start=${SECONDS}
mkdir -p "${downloads}" "${data}"
log "Generating parallel sentences and voices (${langs})"
python "${shared_local}/multilingual_items.py" --out_dir "${downloads}/items" \
    --langs "${langs}" --seed "${seed}" --num_train "${num_train}" --num_dev "${num_dev}" \
    --num_test "${num_test}" --num_spk "${num_spk}"

for x in ${sets}; do
    log "Synthesising ${x} with ${nj} jobs"
    python "${shared_local}/espeak_synth.py" --items "${downloads}/items/${x}.tsv" \
        --wav_dir "${downloads}/wav/${x}" --data_dir "${data}/${x}" --nj "${nj}"
    # espeak_synth wrote the spoken source as text; the items files are sorted like it.
    cp "${downloads}/items/${x}.lang" "${data}/${x}/utt2lang"
    if [ "${target}" = en ]; then
        mv "${data}/${x}/text" "${data}/${x}/text.src"
        cp "${downloads}/items/${x}.en" "${data}/${x}/text"
    fi
    log "${x}: $(wc -l < "${data}/${x}/text") utts," \
        "$(awk '{s += $2} END {printf "%.2f", s / 3600}' "${data}/${x}/utt2dur") hours"
done
echo "${settings}" > "${stamp}"
log "Done in $((SECONDS - start)) s"
