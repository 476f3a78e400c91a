#!/usr/bin/env bash
# Build data/{train,dev,test}: King James Bible clauses read by espeak-ng voices.
# Needs `apt-get install bible-kjv espeak-ng sox` and espnet_speechllm importable.
# See local/README.md for the corpus design.
set -euo pipefail

log() {
    echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2
}

nj=2                 # parallel synthesis jobs
seed=0               # same seed -> identical lists and audio
num_train=3200
num_dev=200
num_test=200
vocab_size=1000      # keep clauses whose words are all among the N most frequent
min_words=3
max_words=12
num_train_spk=32     # speakers = voice + rate + pitch combos
num_dev_spk=6
num_test_spk=6
# Dev and test use espeak-ng variants (m4, f3 / m5, m7, f5) that training never hears.
train_voices=en-us,en-us+m1,en-us+f1,en-us+m6,en+m2,en+f2,en+f4,en-gb-x-rp+m3,en-gb-x-rp+f4,en-gb-scotland+m6,en-gb-scotland+f1,en-gb-x-gbclan+m1,en-gb-x-gbcwmd+f2,en-029+m3,en-us-nyc+m2
dev_voices=en-us+m4,en+f3,en-gb-x-rp+m4,en-gb-scotland+f3
test_voices=en-us+m5,en+f5,en-gb-x-rp+m7,en-gb-scotland+f5,en-us-nyc+m7,en-gb-x-gbclan+f5
downloads=downloads/espeak_en   # text dump, items and wavs (gitignored)
data=data
# Optional sets of the comprehensive solution (arXiv 2406.17272), all off by default so
# that the default recipe's data is unchanged; each is (re)built on every call when on.
nonspeech=false      # data/nonspeech_train (train kinds) + data/test_nonspeech (all kinds)
num_nonspeech_train=400
num_nonspeech_test=100
nonspeech_train_kinds=white,pink,tone,music,babble
nonspeech_test_kinds=white,pink,brown,tone,chord,music,babble,clicks  # brown chord clicks unseen
nonspeech_dev=false  # data/dev_nonspeech: held-out clips of the train kinds (to calibrate on, not test)
num_nonspeech_dev=100
nonspeech_ratio=0    # > 0 (with nonspeech=true): data/train_nonspeech<ratio> = train + ratio * |train|
augment=false        # data/augment/{noise,rir}.scp for --speechllm_args "--noise_scp ... --rir_scp ..."
num_aug_noises=60
num_aug_rirs=30
ood=false            # data/test_ood: fortunes-min (apt-get install fortunes-min) read by espeak-ng
num_ood=200
ood_voices=en-us,en-gb,en+f3,en+m7,en-us+f2,en-gb-scotland+m3,en-gb-x-rp+f5,en-029+m2
# Generalization sets (issue: off its training domain the speech-LLM must not lose to Whisper).
real=false           # data/test_real: all 7 mini_an4 utterances (real voices; nothing trains on them)
mini_an4=${MINI_AN4:-}  # default: <repository root>/../shared/data/mini_an4
extra_text=false     # data/train_extra: fortunes (not fortunes-min) + Devil's Dictionary clauses,
num_extra=1600       # read by the training voices; combine with train for diverse training text
short=false          # data/train_short, data/dev_short: 1-2-word spans of the train / dev sentences
num_short_train=200  # (train: + train_extra's when built), read by the train / dev voices
num_short_dev=50
flite=false          # data/train_flite: 1-2-word spans + sentences of the training text read by
num_flite_short=100  # flite's voices (apt-get install flite), built from real speakers' recordings
num_flite_sent=200
num_flite_spk=12
flite_voices=flite:slt,flite:awb,flite:rms,flite:kal16
mix=false            # data/train_mix: train + the train_extra / train_short built in this call +
mix_nonspeech_ratio=0.1  # this ratio x their size of nonspeech_train (needs --nonspeech true)
help_message="Usage: $0 [--nj 2] [--seed 0] [--num_train 3200] [--vocab_size 1000] ...
Every variable set at the top of local/data.sh (nj, seed, num_*, *_voices, ...) is an option."

if [ -f ./path.sh ]; then . ./path.sh; fi
. utils/parse_options.sh
# The corpus tools shared by recipes: <repository root>/local/.
repo_root=${MAIN_ROOT:-$(cd "$(dirname "$0")/../../../.." && pwd)}
shared_local=${repo_root}/local
mini_an4=${mini_an4:-${repo_root}/../shared/data/mini_an4}

if [ $# -ne 0 ]; then
    echo "${help_message}" >&2
    exit 1
fi

# The optional sets (after the default build, which they never change).
build_extras() {
    if [ "${nonspeech}" = true ]; then
        log "Non-speech sets (empty transcripts: <nospeech>)"
        rm -rf "${data}"/{nonspeech_train,test_nonspeech} "${downloads}"/nonspeech
        python "${shared_local}/nonspeech_synth.py" --data_dir "${data}/nonspeech_train" \
            --wav_dir "${downloads}/nonspeech/train" --num_utts "${num_nonspeech_train}" \
            --seed "$((seed + 1))" --kinds "${nonspeech_train_kinds}" --nj "${nj}"
        python "${shared_local}/nonspeech_synth.py" --data_dir "${data}/test_nonspeech" \
            --wav_dir "${downloads}/nonspeech/test" --num_utts "${num_nonspeech_test}" \
            --seed "$((seed + 2))" --kinds "${nonspeech_test_kinds}" --nj "${nj}"
    fi
    if [ "${nonspeech_dev}" = true ]; then
        log "Held-out non-speech dev set (train kinds, its own seed)"
        rm -rf "${data}/dev_nonspeech" "${downloads}/nonspeech/dev"
        python "${shared_local}/nonspeech_synth.py" --data_dir "${data}/dev_nonspeech" \
            --wav_dir "${downloads}/nonspeech/dev" --num_utts "${num_nonspeech_dev}" \
            --seed "$((seed + 3))" --kinds "${nonspeech_train_kinds}" --nj "${nj}"
    fi
    if [ "${nonspeech_ratio}" != 0 ]; then
        if [ ! -f "${data}/nonspeech_train/wav.scp" ]; then
            log "Error: --nonspeech_ratio ${nonspeech_ratio} needs --nonspeech true"
            exit 1
        fi
        python "${shared_local}/mix_nonspeech.py" --train "${data}/train" --nonspeech "${data}/nonspeech_train" \
            --ratio "${nonspeech_ratio}" --seed "${seed}" --out "${data}/train_nonspeech${nonspeech_ratio}"
    fi
    if [ "${augment}" = true ]; then
        log "Noise and RIR lists for ESPnet's preprocessor"
        rm -rf "${data}/augment" "${downloads}/augment"
        python "${shared_local}/augment_lists.py" --out_dir "${data}/augment" \
            --wav_dir "${downloads}/augment" --seed "${seed}" \
            --num_noises "${num_aug_noises}" --num_rirs "${num_aug_rirs}"
    fi
    if [ "${ood}" = true ]; then
        log "Out-of-domain test set (fortunes-min)"
        rm -rf "${data}/test_ood" "${downloads}/wav/test_ood"
        python "${shared_local}/fortunes_items.py" --out "${downloads}/items/test_ood.tsv" \
            --num_utts "${num_ood}" --seed "${seed}" --voices "${ood_voices}" \
            --vocab "${downloads}/items/vocab.txt"
        python "${shared_local}/espeak_synth.py" --items "${downloads}/items/test_ood.tsv" \
            --wav_dir "${downloads}/wav/test_ood" --data_dir "${data}/test_ood" --nj "${nj}"
    fi
    if [ "${real}" = true ]; then
        log "Real-speech test set (mini_an4, all 7 utterances)"
        rm -rf "${data}/test_real"
        python "${shared_local}/tsv_data_dir.py" --tsv "${mini_an4}/utterances.tsv" --out "${data}/test_real"
    fi
    if [ "${extra_text}" = true ]; then
        log "Extra training text (fortunes + Devil's Dictionary; the OOD test sentences excluded)"
        rm -rf "${data}/train_extra" "${downloads}/wav/train_extra"
        local exclude=()
        if [ -f "${downloads}/items/test_ood.tsv" ]; then
            exclude=(--exclude "${downloads}/items/test_ood.tsv")
        fi
        python "${shared_local}/extra_text_items.py" --out "${downloads}/items/train_extra.tsv" \
            "${exclude[@]}" --num_utts "${num_extra}" --seed "${seed}" --voices "${train_voices}" \
            --num_spk "${num_train_spk}"
        python "${shared_local}/espeak_synth.py" --items "${downloads}/items/train_extra.tsv" \
            --wav_dir "${downloads}/wav/train_extra" --data_dir "${data}/train_extra" --nj "${nj}"
    fi
    if [ "${short}" = true ]; then
        log "Short utterances (1-2 words) for training and dev"
        rm -rf "${data}"/{train_short,dev_short} "${downloads}"/wav/{train_short,dev_short}
        local sources=(--items "${downloads}/items/train.tsv")
        if [ -f "${downloads}/items/train_extra.tsv" ]; then
            sources+=(--items "${downloads}/items/train_extra.tsv")
        fi
        python "${shared_local}/short_items.py" "${sources[@]}" --out "${downloads}/items/train_short.tsv" \
            --voices "${train_voices}" --num_spk "${num_train_spk}" --num_utts "${num_short_train}" \
            --seed "${seed}" --prefix s
        python "${shared_local}/short_items.py" --items "${downloads}/items/dev.tsv" \
            --out "${downloads}/items/dev_short.tsv" --voices "${dev_voices}" \
            --num_spk "${num_dev_spk}" --num_utts "${num_short_dev}" --seed "${seed}" --prefix sd
        for x in train_short dev_short; do
            python "${shared_local}/espeak_synth.py" --items "${downloads}/items/${x}.tsv" \
                --wav_dir "${downloads}/wav/${x}" --data_dir "${data}/${x}" --nj "${nj}"
        done
    fi
    if [ "${flite}" = true ]; then
        log "Training utterances read by flite voices (${flite_voices})"
        rm -rf "${data}/train_flite" "${downloads}/wav/train_flite"
        local sources=(--items "${downloads}/items/train.tsv") exclude=()
        [ -f "${downloads}/items/train_extra.tsv" ] && sources+=(--items "${downloads}/items/train_extra.tsv")
        [ -f "${downloads}/items/test_ood.tsv" ] && exclude=(--exclude "${downloads}/items/test_ood.tsv")
        python "${shared_local}/short_items.py" "${sources[@]}" --out "${downloads}/items/train_flite_short.tsv" \
            --voices "${flite_voices}" --num_spk "${num_flite_spk}" --num_utts "${num_flite_short}" \
            --seed "$((seed + 3))" --prefix fs
        python "${shared_local}/extra_text_items.py" --out "${downloads}/items/train_flite_sent.tsv" \
            "${exclude[@]}" --num_utts "${num_flite_sent}" --seed "$((seed + 3))" --voices "${flite_voices}" \
            --num_spk "${num_flite_spk}"
        cat "${downloads}"/items/train_flite_{short,sent}.tsv > "${downloads}/items/train_flite.tsv"
        python "${shared_local}/espeak_synth.py" --items "${downloads}/items/train_flite.tsv" \
            --wav_dir "${downloads}/wav/train_flite" --data_dir "${data}/train_flite" --nj "${nj}"
    fi
    if [ "${mix}" = true ]; then
        log "Mixed training set data/train_mix (the Whisper-hint system's, run_whisper.sh)"
        local parts=("${data}/train")
        [ "${extra_text}" = true ] && parts+=("${data}/train_extra")
        [ "${short}" = true ] && parts+=("${data}/train_short")
        rm -rf "${data}"/train_mix{,_speech}
        if [ "${mix_nonspeech_ratio}" = 0 ]; then
            python -m espnet_speechllm.recipe.kaldi_dir combine "${data}/train_mix" "${parts[@]}"
        else
            if [ ! -f "${data}/nonspeech_train/wav.scp" ]; then
                log "Error: --mix true --mix_nonspeech_ratio ${mix_nonspeech_ratio} needs --nonspeech true"
                exit 1
            fi
            python -m espnet_speechllm.recipe.kaldi_dir combine "${data}/train_mix_speech" "${parts[@]}"
            python "${shared_local}/mix_nonspeech.py" --train "${data}/train_mix_speech" \
                --nonspeech "${data}/nonspeech_train" --ratio "${mix_nonspeech_ratio}" --seed "${seed}" \
                --out "${data}/train_mix"
            rm -rf "${data}/train_mix_speech"
        fi
    fi
}

for bin in bible espeak-ng sox; do
    if ! command -v "${bin}" > /dev/null; then
        pkg=${bin/bible/bible-kjv}
        log "Error: '${bin}' not found: apt-get install ${pkg}"
        exit 1
    fi
done
if [ "${flite}" = true ] && ! command -v flite > /dev/null; then
    log "Error: --flite true needs 'flite': apt-get install flite"
    exit 1
fi
if ! python -c "import espnet_speechllm" 2> /dev/null; then
    log "Error: cannot import espnet_speechllm: pip install -e the project root or set PYTHONPATH"
    exit 1
fi

# Everything that decides the output; a finished build with the same settings is kept.
settings="seed=${seed} num_train=${num_train} num_dev=${num_dev} num_test=${num_test}"
settings+=" vocab_size=${vocab_size} min_words=${min_words} max_words=${max_words}"
settings+=" spk=${num_train_spk},${num_dev_spk},${num_test_spk}"
settings+=" voices=${train_voices}/${dev_voices}/${test_voices} downloads=${downloads}"
stamp=${data}/.espeak_en_settings
already_built() {
    [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${settings}" ] || return 1
    for x in train dev test; do  # also catches deleted wavs
        python -m espnet_speechllm.recipe.kaldi_dir validate "${data}/${x}" \
            --need wav.scp text utt2spk spk2utt > /dev/null 2>&1 || return 1
    done
}
if already_built; then
    log "data already built with these settings (${stamp}); skipping"
    build_extras
    exit 0
fi
rm -rf "${stamp}" "${downloads}/wav" "${downloads}/items" "${data}"/{train,dev,test}

start=${SECONDS}
mkdir -p "${downloads}" "${data}"
log "Dumping the King James Bible text with bible-kjv"
bible -f gen1:1-rev22:21 > "${downloads}/kjv.txt"

log "Selecting sentences and voices"
python "${shared_local}/kjv_items.py" \
    --source "${downloads}/kjv.txt" --out_dir "${downloads}/items" --seed "${seed}" \
    --num_train "${num_train}" --num_dev "${num_dev}" --num_test "${num_test}" \
    --vocab_size "${vocab_size}" --min_words "${min_words}" --max_words "${max_words}" \
    --train_voices "${train_voices}" --dev_voices "${dev_voices}" --test_voices "${test_voices}" \
    --num_train_spk "${num_train_spk}" --num_dev_spk "${num_dev_spk}" --num_test_spk "${num_test_spk}"

for x in train dev test; do
    log "Synthesising ${x} with ${nj} jobs"
    python "${shared_local}/espeak_synth.py" --items "${downloads}/items/${x}.tsv" \
        --wav_dir "${downloads}/wav/${x}" --data_dir "${data}/${x}" --nj "${nj}"
    log "${x}: $(wc -l < "${data}/${x}/text") utts," \
        "$(awk '{s += $2} END {printf "%.2f", s / 3600}' "${data}/${x}/utt2dur") hours"
done
echo "${settings}" > "${stamp}"
build_extras
log "Done in $((SECONDS - start)) s"
