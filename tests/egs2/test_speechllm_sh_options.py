"""speechllm.sh's options as an asr.sh user types them: asr.sh's names are taken as ours
or refused with the name to use, values asr.sh takes (--fs 16k) work, unused values stop
the run, and stage 14 packs by default, saying so when skipped."""

from pathlib import Path

import pytest

from stub_recipe import make_stub_recipe, run_stub


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return make_stub_recipe(tmp_path)


@pytest.mark.parametrize(
    "alias, ours, value, expected",
    [
        ("--asr_config", "--speechllm_config", "conf/train_y.yaml", "--config conf/train_y.yaml "),
        ("--asr_args", "--speechllm_args", "--max_epoch 7", "--max_epoch 7"),
        ("--asr_tag", "--speechllm_tag", "mine", "--output_dir exp/mine "),
        ("--asr_exp", "--speechllm_exp", "exp/there", "--output_dir exp/there "),
        ("--nbpe", "--llm_vocab_size", "300", "--token_list data/token_list/hf_bpe300/tokens.txt"),
    ],
)
def test_asr_sh_names_are_taken_as_ours(recipe, alias, ours, value, expected):
    (recipe / "conf" / "train_y.yaml").write_text("{}\n")
    out = run_stub(recipe, "--stage", "11", "--stop_stage", "11", alias, value)
    assert f"{alias} {value}: asr.sh's name, taken as {ours} {value}" in out.output
    (train,) = [c for c in out.calls if "check_train_inputs" not in c]  # (tested on its own)
    assert expected in train + " "


def test_inference_asr_model_is_inference_model(recipe):
    out = run_stub(recipe, "--stage", "12", "--stop_stage", "12",
                   "--inference_asr_model", "valid.loss.best.pth")  # fmt: skip
    (infer,) = out.calls
    assert "--model_file exp/x_scratch_lm_bpe500/valid.loss.best.pth" in infer


@pytest.mark.parametrize(
    "opts, says",
    [
        (("--use_lm", "true"), "--use_lm true: there is no separate LM in decoding here, the LLM is the decoder (--llm)"),
        (("--download_model", "espnet/x"), "--download_model: speechllm.sh decodes its own experiments"),
        (("--pretrained_model", "a.pth"), '--speechllm_args "--init_param a.pth"'),
        (("--feats_type", "fbank_pitch"), "--feats_type fbank_pitch: only raw"),
        (("--token_type", "bpe"), "--token_type bpe: text is tokenized by the LLM's own tokenizer"),
        (("--bpemode", "unigram"), "--bpemode unigram: the from-scratch tokenizer is the LLM's own"),
        (("--lang", "en"), "--lang en: not used by speechllm.sh"),
        (("--fs", "16kHz"), "--fs 16kHz: a sample rate in Hz (16000) or asr.sh's k form (16k)"),
    ],
)
def test_unused_or_unsupported_values_stop_with_what_to_use(recipe, opts, says):
    out = run_stub(recipe, *opts, check=False)
    assert out.returncode == 2, out.output[-2000:]
    assert says in out.output
    assert out.calls == []  # refused before any stage ran


def test_use_lm_false_is_accepted(recipe):
    run_stub(recipe, "--stage", "11", "--stop_stage", "11", "--use_lm", "false")


@pytest.mark.parametrize("fs, hz", [("16k", "16000"), ("8k", "8000"), ("22.05k", "22050"), ("16000", "16000")])
def test_fs_takes_asr_sh_forms(recipe, fs, hz):
    out = run_stub(recipe, "--stage", "3", "--stop_stage", "3", "--fs", fs)
    fmt = [c for c in out.calls if "format_wav_scp" in c]
    assert len(fmt) == 3 and all(c.startswith(f"-m espnet_speechllm.recipe.format_wav_scp --fs {hz} ") for c in fmt)


def test_stage_14_packs_by_default_and_says_when_skipped(recipe):
    out = run_stub(recipe, "--stage", "14", "--stop_stage", "10000")
    (pack,) = out.calls
    assert pack.startswith("-m espnet_speechllm.recipe.pack_model --train_config exp/x_scratch_lm_bpe500/config.yaml")
    assert "--outpath exp/x_scratch_lm_bpe500/x_scratch_lm_bpe500_valid.acc.ave.zip" in pack
    assert "Stage 15: skipped (--skip_upload_hf true" in out.output
    (recipe / "calls.txt").unlink()
    out = run_stub(recipe, "--stage", "14", "--stop_stage", "10000", "--skip_packing", "true")
    assert out.calls == []
    assert "Stage 14: skipped (--skip_packing true): no exp/x_scratch_lm_bpe500/" in out.output


def test_whisper_fallback_decode_is_written_from_the_hints_decode(recipe):
    for dset in ("train", "dev", "test"):  # hints of stage 8 are there: stage 12 keeps them
        (recipe / "dump" / "raw" / dset / "instruction").write_text('u1 Transcribe. "A"\nu2 Transcribe. "B"\n')
    out = run_stub(recipe, "--stage", "12", "--stop_stage", "12", "--whisper_hint", "true",
                   "--whisper_fallback_threshold", "0.3")  # fmt: skip
    infer, fallback = out.calls
    assert "--data_path_and_name_and_type dump/raw/test/instruction,instruction,text" in infer
    assert fallback == (
        "-m espnet_speechllm.recipe.whisper_fallback --hyp exp/x_scratch_lm_bpe500/decode_asr_valid.acc.ave/test/text"
        " --whisper exp/whisper_hint/decode_whisper/test --threshold 0.3"
        " --out_dir exp/x_scratch_lm_bpe500/decode_asr_valid.acc.ave_whisperfallback0.3/test"
    )


def test_empty_threshold_is_set_on_its_set_then_decodes_the_test_sets(recipe):
    d = recipe / "dump" / "raw" / "dev_ns"
    d.mkdir()
    (d / "wav.scp").write_text("n1 n.wav\n")
    out = run_stub(recipe, "--stage", "12", "--stop_stage", "12", "--empty_threshold_set", "dev_ns",
                   "--empty_threshold_rate", "0.95")  # fmt: skip
    calib, infer = out.calls
    assert calib.startswith("-m espnet_speechllm.bin.speechllm_empty_threshold ")
    assert "--data_path_and_name_and_type dump/raw/dev_ns/wav.scp,speech,sound --empty_rate 0.95" in calib
    assert "--output_dir exp/x_scratch_lm_bpe500/decode_asr_valid.acc.ave/empty_threshold_dev_ns" in calib
    assert "dump/raw/test/wav.scp" in infer and infer.endswith("--empty_threshold 0.42")
    assert "Stage 12: --empty_threshold 0.42" in out.output


def test_empty_threshold_set_that_is_a_test_set_is_refused(recipe):
    out = run_stub(recipe, "--empty_threshold_set", "test", check=False)
    assert out.returncode == 2 and "--empty_threshold_set test: also a test set" in out.output
    assert not out.calls


def test_whisper_fallback_needs_the_whisper_hints(recipe):
    out = run_stub(recipe, "--stage", "12", "--whisper_fallback_threshold", "0.3", check=False)
    assert out.returncode == 2 and "add --whisper_hint true" in out.output and not out.calls


@pytest.mark.parametrize("fallback", [[], ["--empty_gate_whisper_fallback", "false"]])
def test_empty_gate_is_fitted_on_its_sets_then_gates_each_test_set(recipe, fallback):
    d = recipe / "dump" / "raw" / "dev_ns"
    d.mkdir()
    (d / "wav.scp").write_text("n1 n.wav\n")
    for dset in ("train", "dev", "test", "dev_ns"):  # the hints of stage 8 are there
        (recipe / "dump" / "raw" / dset / "instruction").write_text(
            "".join(f'{line.split()[0]} Transcribe. "A"\n' for line in (recipe / "dump" / "raw" / dset / "wav.scp").open())
        )
    out = run_stub(recipe, "--stage", "12", "--stop_stage", "12", "--whisper_hint", "true",
                   "--empty_gate_nonspeech_set", "dev_ns", "--empty_gate_speech_sets", "dev",
                   "--empty_gate_rate", "0.95", *fallback)  # fmt: skip
    p_ns, p_dev, fit, infer, p_test, apply = out.calls
    tag = "exp/x_scratch_lm_bpe500/decode_asr_valid.acc.ave"
    for call, dset in ((p_ns, "dev_ns"), (p_dev, "dev"), (p_test, "test")):
        assert call.startswith("-m espnet_speechllm.bin.speechllm_empty_threshold ")
        assert f"--data_path_and_name_and_type dump/raw/{dset}/instruction,instruction,text" in call
        assert call.endswith(f"--empty_rate none --output_dir {tag}/empty_gate/{dset}")
    assert fit == (
        f"-m espnet_speechllm.recipe.empty_gate fit --rate 0.95 --out {tag}/empty_gate/gate.json"
        f" --nonspeech {tag}/empty_gate/dev_ns/p_empty exp/whisper_hint/decode_whisper/dev_ns"
        f" --speech {tag}/empty_gate/dev/p_empty exp/whisper_hint/decode_whisper/dev"
    )
    assert "dump/raw/test/wav.scp" in infer
    assert infer.endswith("--empty_threshold 1.0") == bool(fallback)  # never "" by itself, or Whisper's words
    assert apply == (
        f"-m espnet_speechllm.recipe.empty_gate apply --gate {tag}/empty_gate/gate.json --hyp {tag}/test/text"
        f" --p_empty {tag}/empty_gate/test/p_empty --whisper_fallback {'false' if fallback else 'true'}"
        " --whisper exp/whisper_hint/decode_whisper/test"
        f" --out_dir {tag}_emptygate/test"
    )


@pytest.mark.parametrize(
    "opts, error",
    [(["--empty_gate_nonspeech_set", "dev_ns"], "the gate needs both kinds"),
     (["--empty_gate_nonspeech_set", "dev_ns", "--empty_gate_speech_sets", "dev test"],
      "test is also a test set; fit the gate on held-out sets"),
     (["--empty_gate_nonspeech_set", "dev_ns", "--empty_gate_speech_sets", "dev", "--whisper_hint", "false"],
      "add --whisper_hint true"),
     (["--empty_gate_nonspeech_set", "dev_ns", "--empty_gate_speech_sets", "dev", "--empty_threshold_set", "dev_ns"],
      "both decide what is")],
)  # fmt: skip
def test_bad_empty_gate_options_are_refused(recipe, opts, error):
    out = run_stub(recipe, "--whisper_hint", "true", *opts, check=False)
    assert out.returncode == 2 and error in out.output and not out.calls



def _hints(recipe, sets=("train", "dev", "test")):
    for dset in sets:  # the hints of stage 8 are there
        (recipe / "dump" / "raw" / dset / "instruction").write_text(
            "".join(f'{line.split()[0]} Transcribe. "A"\n' for line in (recipe / "dump" / "raw" / dset / "wav.scp").open())
        )


@pytest.mark.parametrize("gate", [False, True])
def test_whisper_select_decodes_its_set_fits_there_and_chooses_on_the_test_sets(recipe, gate):
    _hints(recipe)
    opts = ["--empty_gate_nonspeech_set", "dev_ns", "--empty_gate_speech_sets", "dev"] if gate else []
    if gate:
        (recipe / "dump" / "raw" / "dev_ns").mkdir()
        (recipe / "dump" / "raw" / "dev_ns" / "wav.scp").write_text("n1 n.wav\n")
        _hints(recipe, ["dev_ns"])
    out = run_stub(recipe, "--stage", "12", "--stop_stage", "13", "--whisper_hint", "true",
                   "--whisper_select_sets", "dev", *opts, check=False)  # stage 13's RESULTS.md needs real scores
    tag = "exp/x_scratch_lm_bpe500/decode_asr_valid.acc.ave"
    src = f"{tag}_emptygate" if gate else tag
    infer = [c for c in out.calls if "bin.speechllm_inference" in c]
    assert [c.split("--key_file ")[1].split("/")[3] for c in infer] == ["test", "dev"]  # dev decoded for the fit
    joint = [c for c in out.calls if "bin.joint_hyp_score" in c]
    for call, dset in zip(joint, ("dev", "test")):
        assert call == (
            "-m espnet_speechllm.bin.joint_hyp_score --train_config exp/x_scratch_lm_bpe500/config.yaml"
            " --model_file exp/x_scratch_lm_bpe500/valid.acc.ave.pth --whisper_dir exp/whisper"
            f" --data_dir dump/raw/{dset} --hyp {src}/{dset}/text"
            f" --whisper_hyp exp/whisper_hint/decode_whisper/{dset}/text --out {src}_select/{dset}/joint_scores"
        )
    fit, apply = [c for c in out.calls if "recipe.hyp_select" in c]
    assert fit == (
        f"-m espnet_speechllm.recipe.hyp_select fit --set {src}/dev/text exp/whisper_hint/decode_whisper/dev/text"
        f" {src}_select/dev/joint_scores dump/raw/dev/text --out {src}_select/select.json"
    )
    assert apply == (
        f"-m espnet_speechllm.recipe.hyp_select apply --select {src}_select/select.json --hyp {src}/test/text"
        f" --whisper exp/whisper_hint/decode_whisper/test/text --scores {src}_select/test/joint_scores"
        f" --out_dir {src}_select/test"
    )
    scored = [c.split("--hyp ")[1].split()[0] for c in out.calls if "recipe.score --metric wer" in c]
    assert scored == [f"{tag}/test/text"] + ([f"{tag}_emptygate/test/text"] if gate else []) + [f"{src}_select/test/text"]


@pytest.mark.parametrize(
    "opts, error",
    [(["--whisper_select_sets", "dev test"], "test is also a test set; fit the weight on held-out sets"),
     (["--whisper_select_sets", "dev", "--whisper_hint", "false"], "add --whisper_hint true")],
)  # fmt: skip
def test_bad_whisper_select_options_are_refused(recipe, opts, error):
    out = run_stub(recipe, "--whisper_hint", "true", *opts, check=False)
    assert out.returncode == 2 and error in out.output and not out.calls
