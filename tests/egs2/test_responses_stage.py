"""speechllm.sh stage 8 with a pretrained LLM: its responses to every transcript (--make_responses)."""

import os
import subprocess
from pathlib import Path

from espnet_speechllm.recipe import generate_responses as gr
from espnet_speechllm.utils.kaldi_io import read_map
from shell_env import recipe_env

WORDS = ["ONE TWO", "GO STOP", "THREE", "ERASE", "YES NO YES", "SEVEN EIGHT", "NINE", "RUBOUT"]
TEXTS = {f"utt{i:02d}": t for i, t in enumerate(WORDS)}
RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "espeak_en" / "speechllm1"


def test_speechllm_sh_stage8_writes_response_per_data_dir_and_reruns_as_noop(chat_llm, tmp_path):
    raw = tmp_path / "dump" / "raw"
    for dset, utts in (("train", list(TEXTS)[:5]), ("dev", list(TEXTS)[5:7]), ("test", ["utt07"])):
        (raw / dset).mkdir(parents=True)
        (raw / dset / "text").write_text("".join(f"{u} {TEXTS[u]}\n" for u in utts))
    inst = "utt07 Repeat exactly what was said\n"
    (raw / "test" / "instruction").write_text(inst)
    cmd = ["./speechllm.sh", "--stage", "8", "--stop_stage", "8", "--nj", "2",
           "--dumpdir", str(tmp_path / "dump"), "--expdir", str(tmp_path / "exp"),
           "--llm", str(chat_llm), "--llm_dir", str(chat_llm), "--make_responses", "true",
           "--response_max_new_tokens", "3", "--train_set", "train", "--valid_set", "dev",
           "--test_sets", "test"]  # fmt: skip
    env = recipe_env()

    def run():
        out = subprocess.run(cmd, cwd=RECIPE, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout + out.stderr

    run()
    # the 2-job split and merge give what one call on the whole file gives
    gr.generate_responses(str(chat_llm), raw / "train" / "text", tmp_path / "one",
                          batch_size=8, max_new_tokens=3)  # fmt: skip
    assert (raw / "train" / "response").read_bytes() == (tmp_path / "one").read_bytes()
    assert sorted(read_map(raw / "dev" / "response")) == ["utt05", "utt06"]
    # the instruction file joins the test set's prompt
    gr.generate_responses(str(chat_llm), raw / "test" / "text", tmp_path / "inst",
                          instruction=raw / "test" / "instruction", max_new_tokens=3)  # fmt: skip
    assert (raw / "test" / "response").read_bytes() == (tmp_path / "inst").read_bytes()
    mtimes = {d: (raw / d / "response").stat().st_mtime_ns for d in ("train", "dev", "test")}
    assert run().count("exists for every utterance; skipping") == 3
    assert mtimes == {d: (raw / d / "response").stat().st_mtime_ns for d in mtimes}
    # off by default: no response stage
    os.remove(raw / "dev" / "response")
    cmd.remove("--make_responses"); cmd.remove("true")  # noqa: E702
    run()
    assert not (raw / "dev" / "response").exists()
