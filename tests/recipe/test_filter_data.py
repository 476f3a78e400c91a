import shutil

import pytest

from espnet_speechllm.recipe.filter_data import filter_reasons, main
from espnet_speechllm.recipe.format_wav_scp import format_wav_scp
from espnet_speechllm.recipe.kaldi_dir import fix, subset, validate
from espnet_speechllm.utils.kaldi_io import read_map, write_map
from espnet_speechllm.recipe.speed_perturb import speed_perturb


def test_filter_reasons():
    num_samples = {"a": "800", "b": "1600", "c": "48000", "d": "1600", "e": "1600"}
    text = {"a": "X", "b": "OK", "c": "X", "d": "", "e": "TOO LONG TEXT"}
    reasons = filter_reasons(num_samples, text, 16000, 0.1, 2.0, max_text_chars=5)
    assert reasons == {
        "a": "too_short 0.050s < 0.1s",
        "c": "too_long 3.000s > 2.0s",
        "d": "empty_text",
        "e": "text_too_long 13 chars > 5",
    }


def test_cli_writes_kept_dir_and_filtered_list(make_data_dir, tmp_path, capsys):
    src = make_data_dir(
        {"u1": ("A", "s", 800), "u2": ("B", "s", 16000), "u3": ("C", "s", 400000)}
    )
    write_map(src / "utt2num_samples", {"u1": "800", "u2": "16000", "u3": "400000"})
    main(
        [
            "--fs",
            "16000",
            "--min_wav_duration",
            "0.1",
            "--max_wav_duration",
            "20",
            str(src),
            str(tmp_path / "out"),
        ]
    )
    out = tmp_path / "out"
    validate(out)
    assert list(read_map(out / "wav.scp")) == ["u2"]
    assert read_map(out / "filtered.txt") == {
        "u1": "too_short 0.050s < 0.1s",
        "u3": "too_long 25.000s > 20.0s",
    }
    assert capsys.readouterr().out.strip() == (
        f"filter_data: {out}: kept 1 of 3 (too_long: 1, too_short: 1)"
    )


def test_needs_utt2num_samples(make_data_dir, tmp_path):
    src = make_data_dir({"u1": ("A", "s", 800)})
    with pytest.raises(
        SystemExit, match="utt2num_samples: missing; run format_wav_scp"
    ):
        main([str(src), str(tmp_path / "out")])


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
def test_stages_2_to_4_on_mini_an4(an4_dirs, tmp_path):
    """fix -> speed perturbation -> format -> filter over real speech."""
    train = tmp_path / "train"
    subset(an4_dirs / "train", train, read_map(an4_dirs / "train" / "wav.scp"))
    fix(train)  # adds utt2spk / spk2utt
    speed_perturb(train, tmp_path / "train_sp", ["0.9", "1.0"])
    assert format_wav_scp(tmp_path / "train_sp", tmp_path / "fmt", fs=16000, nj=2) == []
    main(["--max_wav_duration", "2.0", str(tmp_path / "fmt"), str(tmp_path / "final")])
    validate(tmp_path / "final")
    n = {k: int(v) for k, v in read_map(tmp_path / "fmt" / "utt2num_samples").items()}
    assert len(n) == 10
    for utt in read_map(train / "wav.scp"):
        assert abs(n[f"sp0.9-{utt}"] - n[utt] / 0.9) < 100, utt
    filtered = read_map(tmp_path / "final" / "filtered.txt")
    assert filtered and all(r.startswith("too_long") for r in filtered.values())
    assert all(n[utt] > 32000 for utt in filtered)
