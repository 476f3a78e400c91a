"""scripts/run_whisper_baseline.sh: Whisper alone decodes the test sets, stage 13 scores them."""

import subprocess
from pathlib import Path

from data_dirs import write_sine
from espnet_speechllm.utils.kaldi_io import read_map
from shell_env import recipe_env


def _recipe(tmp_path: Path, sets=("test",)) -> Path:
    """A recipe dir on TEMPLATE's scripts whose dump/raw/<set> hold 3 sine utterances each."""
    template = Path(__file__).resolve().parents[2] / "egs2" / "TEMPLATE" / "speechllm1"
    recipe = tmp_path / "egs2" / "x" / "speechllm1"
    recipe.mkdir(parents=True)
    for name in ("speechllm.sh", "utils", "scripts", "path.sh", "cmd.sh"):
        (recipe / name).symlink_to(template / name)
    (recipe / "run.sh").write_text(
        "#!/usr/bin/env bash\n./speechllm.sh --train_set train --valid_set dev "
        '--test_sets test --scoring_metrics wer "$@"\n'
    )
    (recipe / "run.sh").chmod(0o755)
    for dset in sets:
        data = recipe / "dump" / "raw" / dset
        data.mkdir(parents=True)
        for i, n in enumerate((16000, 8000, 5000)):
            write_sine(data / f"{dset}{i}.wav", n)
        (data / "wav.scp").write_text("".join(f"{dset}{i} {data / f'{dset}{i}.wav'}\n" for i in range(3)))
        (data / "text").write_text(f"{dset}0 ONE\n{dset}1 TWO\n{dset}2 THREE\n")
    return recipe


def test_run_whisper_baseline_script_scores_with_stage13(tiny_whisper_dir, tmp_path):
    """scripts/run_whisper_baseline.sh in a recipe dir: decode layout + stage 13's WER."""
    recipe = _recipe(tmp_path)
    scp = recipe / "dump" / "raw" / "test" / "wav.scp"
    # path.sh finds the checkout three levels above the recipe: here it is elsewhere
    env = recipe_env()
    out = subprocess.run(
        ["scripts/run_whisper_baseline.sh", "--whisper_dir", str(tiny_whisper_dir),
         "--test_sets", "test", "--nj", "2", "--whisper_args", "--max_new_tokens 3"],  # fmt: skip
        cwd=recipe, env=env, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    dec = recipe / "exp" / "whisper_alone" / "decode_whisper" / "test"
    for name in ("text", "token", "token_int", "score"):
        assert sorted(read_map(dec / name)) == ["test0", "test1", "test2"]
    assert scp.is_file()
    score = (dec / "score_wer" / "score.json").read_text()
    assert '"n_utt": 3' in score and '"n_ref": 3' in score
    assert "decode_whisper/test" in (recipe / "exp" / "whisper_alone" / "RESULTS.md").read_text()


def test_stage8_whisper_hints_every_set_once(tiny_whisper_dir, tmp_path):
    """speechllm.sh --whisper_hint true: Whisper's 1-best of train/dev/test as the instruction."""
    recipe = _recipe(tmp_path, ("train", "dev", "test"))
    cmd = ["./run.sh", "--stage", "8", "--stop_stage", "8", "--llm", str(tmp_path / "llm_x"),
           "--whisper_hint", "true", "--whisper_dir", str(tiny_whisper_dir), "--inference_nj", "2",
           "--whisper_hint_args", "--max_new_tokens 3"]
    out = subprocess.run(cmd, cwd=recipe, env=recipe_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    for dset in ("train", "dev", "test"):
        hyp = read_map(recipe / "exp" / "whisper_hint" / "decode_whisper" / dset / "text")
        inst = read_map(recipe / "dump" / "raw" / dset / "instruction")
        assert sorted(inst) == [f"{dset}{i}" for i in range(3)]
        assert all(inst[u] == f'Transcribe the audio. A first guess, which may be wrong: "{" ".join(hyp[u].split())}"'
                   for u in inst)
    assert not (recipe / "exp" / "whisper_hint" / "RESULTS.md").exists()  # decoded, not scored
    again = subprocess.run(cmd, cwd=recipe, env=recipe_env(), capture_output=True, text=True)
    log = again.stdout + again.stderr
    assert again.returncode == 0 and log.count("exists for every utterance; skipping") == 3
    assert "decodes" not in log
    assert (recipe / "dump" / "raw" / "test" / "instruction.args").read_text() == "--max_new_tokens 3\n"
    # other --whisper_hint_args: the hints are made again, not kept
    other = cmd[:-1] + ["--max_new_tokens 2"]
    out = subprocess.run(other, cwd=recipe, env=recipe_env(), capture_output=True, text=True)
    log = out.stdout + out.stderr
    assert out.returncode == 0 and log.count("is from other --whisper_hint_args; redoing it") == 3, log
    assert (recipe / "dump" / "raw" / "test" / "instruction.args").read_text() == "--max_new_tokens 2\n"
    assert all(len(v.split()) <= 2 for v in read_map(recipe / "exp" / "whisper_hint" / "decode_whisper" / "test" / "token_int").values())
    # --whisper_hint_no_speech true: hints of the other kind are not kept; each gives the
    # no-speech probability of whisper_inference's no_speech_prob (a token of the tiny tokenizer)
    from transformers import AutoTokenizer

    token = AutoTokenizer.from_pretrained(tiny_whisper_dir).convert_ids_to_tokens(7)
    nsp = cmd[:-1] + [f"--max_new_tokens 3 --no_speech_token {token}", "--whisper_hint_no_speech", "true"]
    out = subprocess.run(nsp, cwd=recipe, env=recipe_env(), capture_output=True, text=True)
    assert out.returncode == 0 and "skipping" not in out.stdout + out.stderr, out.stdout + out.stderr
    for dset in ("train", "dev", "test"):
        dec = recipe / "exp" / "whisper_hint" / "decode_whisper" / dset
        hyp, prob = read_map(dec / "text"), read_map(dec / "no_speech_prob")
        inst = read_map(recipe / "dump" / "raw" / dset / "instruction")
        assert all(inst[u] == "Transcribe the audio. Whisper's no-speech probability: "
                   f'{float(prob[u]):.1f}. A first guess, which may be wrong: "{" ".join(hyp[u].split())}"'
                   for u in inst)  # fmt: skip


def test_stage8_also_hints_the_held_out_sets_of_stage12_once_each(tiny_whisper_dir, tmp_path):
    """The gate / select sets get their hints with the others (not at stage 12, where
    systems decoded side by side would write them into one dir at once)."""
    recipe = _recipe(tmp_path, ("train", "dev", "test", "dev_ns"))
    cmd = ["./run.sh", "--stage", "8", "--stop_stage", "8", "--llm", str(tmp_path / "llm_x"),
           "--whisper_hint", "true", "--whisper_dir", str(tiny_whisper_dir), "--inference_nj", "1",
           "--whisper_hint_args", "--max_new_tokens 2", "--empty_gate_nonspeech_set", "dev_ns",
           "--empty_gate_speech_sets", "dev", "--whisper_select_sets", "dev"]  # fmt: skip
    out = subprocess.run(cmd, cwd=recipe, env=recipe_env(), capture_output=True, text=True)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "exp/whisper decodes train dev test dev_ns -> exp/whisper_hint" in log.replace(str(tiny_whisper_dir), "exp/whisper")
    assert sorted(read_map(recipe / "dump" / "raw" / "dev_ns" / "instruction")) == ["dev_ns0", "dev_ns1", "dev_ns2"]


def test_run_whisper_baseline_names_a_set_that_is_not_dumped(tiny_whisper_dir, tmp_path):
    recipe = _recipe(tmp_path)
    out = subprocess.run(
        ["scripts/run_whisper_baseline.sh", "--whisper_dir", str(tiny_whisper_dir),
         "--test_sets", "test test100"],  # fmt: skip
        cwd=recipe, env=recipe_env(), capture_output=True, text=True,
    )
    assert out.returncode == 1
    assert "no dump/raw/test100/wav.scp: dump the set first" in out.stderr
    assert not (recipe / "exp").exists()  # nothing decoded before the check


def test_generalization_whisper_system_dumps_the_sets_it_decodes(tiny_whisper_dir, tmp_path):
    """espeak_en's local/run_generalization.sh whisper on a recipe whose test set is in data/ only."""
    recipe = _recipe(tmp_path, sets=())
    espeak = Path(__file__).resolve().parents[2] / "egs2" / "espeak_en" / "speechllm1"
    (recipe / "local").mkdir()
    (recipe / "local" / "run_generalization.sh").symlink_to(espeak / "local" / "run_generalization.sh")
    (recipe / "data" / "train_mix800_ns0.1").mkdir(parents=True)
    (recipe / "data" / "train_mix800_ns0.1" / "text").write_text("x A\n")  # the study's sets: made
    data = recipe / "data" / "test_x"
    data.mkdir()
    for i, n in enumerate((16000, 8000)):
        write_sine(data / f"t{i}.wav", n)
    (data / "wav.scp").write_text("".join(f"t{i} {data / f't{i}.wav'}\n" for i in range(2)))
    (data / "text").write_text("t0 ONE\nt1 TWO\n")
    out = subprocess.run(
        ["local/run_generalization.sh", "whisper", "--whisper_dir", str(tiny_whisper_dir),
         "--test_sets", "test_x", "--nj", "1", "--whisper_args", "--max_new_tokens 3"],  # fmt: skip
        cwd=recipe, env=recipe_env(), capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(read_map(recipe / "dump" / "raw" / "test_x" / "wav.scp")) == ["t0", "t1"]
    score = recipe / "exp" / "gen_whisper_alone" / "decode_whisper" / "test_x" / "score_wer" / "score.json"
    assert '"n_utt": 2' in score.read_text()
