"""Tests of local/mix_nonspeech.py (training dir + ratio * |train| non-speech utts)."""

import pytest

import mix_nonspeech as mix

from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map


def test_mix_adds_ratio_times_train_size(make_data_dir, tmp_path):
    train = make_data_dir({f"s1-{i}": ("A B", "s1", 1600) for i in range(10)}, "train")
    ns = make_data_dir({f"nonspeech_pink-{i}": ("<nospeech>", "nonspeech_pink", 1600)
                        for i in range(6)}, "ns")
    out = tmp_path / "mixed"
    mix.main(["--train", str(train), "--nonspeech", str(ns), "--ratio", "0.3", "--out", str(out)])
    text = read_map(out / "text")
    assert len(text) == 13 and sum(v == "<nospeech>" for v in text.values()) == 3
    validate(out, need=("wav.scp", "text", "utt2spk", "spk2utt"))
    picked = sorted(u for u, v in text.items() if v == "<nospeech>")
    assert picked == mix.draw(sorted(read_map(ns / "wav.scp")), 10, 0.3, 0)
    with pytest.raises(SystemExit, match="asks for 10 non-speech utts but only 6 exist"):
        mix.main(["--train", str(train), "--nonspeech", str(ns), "--ratio", "1.0",
                  "--out", str(tmp_path / "x")])
