"""scripts/run_whisper_baseline.sh: Whisper alone decodes the test sets, stage 13 scores them."""

import subprocess
from pathlib import Path

from data_dirs import write_sine
from espnet_speechllm.utils.kaldi_io import read_map
from shell_env import recipe_env


def test_run_whisper_baseline_script_scores_with_stage13(tiny_whisper_dir, tmp_path):
    """scripts/run_whisper_baseline.sh in a recipe dir: decode layout + stage 13's WER."""
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
    data = recipe / "dump" / "raw" / "test"
    data.mkdir(parents=True)
    for i, n in enumerate((16000, 8000, 5000)):
        write_sine(data / f"u{i}.wav", n)
    scp = data / "wav.scp"
    scp.write_text("".join(f"u{i} {data / f'u{i}.wav'}\n" for i in range(3)))
    (data / "text").write_text("u0 ONE\nu1 TWO\nu2 THREE\n")
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
        assert sorted(read_map(dec / name)) == ["u0", "u1", "u2"]
    assert scp.is_file()
    score = (dec / "score_wer" / "score.json").read_text()
    assert '"n_utt": 3' in score and '"n_ref": 3' in score
    assert "decode_whisper/test" in (recipe / "exp" / "whisper_alone" / "RESULTS.md").read_text()
