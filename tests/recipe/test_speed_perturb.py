import shutil

import pytest

from espnet_speechllm.utils.audio_input import read_audio
from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map, write_map
from espnet_speechllm.recipe.speed_perturb import main, perturbed_audio, speed_perturb

UTTS = {"spkA-1": ("HELLO", "spkA", 8000), "spkB-1": ("YES", "spkB", 4000)}


def test_perturbed_audio_for_paths_and_pipes():
    assert (
        perturbed_audio("/d/a b.wav", "0.9") == "sox '/d/a b.wav' -t wav - speed 0.9 |"
    )
    assert (
        perturbed_audio("sph2pipe -f wav x.sph |", "1.1")
        == "sph2pipe -f wav x.sph | sox -t wav - -t wav - speed 1.1 |"
    )


def test_speed_perturb_prefixes_ids_and_speakers(make_data_dir, tmp_path):
    src = make_data_dir(UTTS)
    wav_b = read_map(src / "wav.scp")["spkB-1"]
    write_map(src / "utt2num_samples", {"spkA-1": "8000", "spkB-1": "4000"})
    scp = read_map(src / "wav.scp")
    scp["spkB-1"] = f"cat {wav_b} |"  # a pipe entry gets chained
    write_map(src / "wav.scp", scp)

    assert speed_perturb(src, tmp_path / "sp", ["0.9", "1.0", "1.1"]) == 6
    dst = tmp_path / "sp"
    validate(dst)
    wav = read_map(dst / "wav.scp")
    assert sorted(wav) == [
        "sp0.9-spkA-1",
        "sp0.9-spkB-1",
        "sp1.1-spkA-1",
        "sp1.1-spkB-1",
        "spkA-1",
        "spkB-1",
    ]
    assert wav["spkA-1"] == scp["spkA-1"]
    assert wav["sp0.9-spkA-1"] == f"sox {scp['spkA-1']} -t wav - speed 0.9 |"
    assert wav["sp1.1-spkB-1"] == f"cat {wav_b} | sox -t wav - -t wav - speed 1.1 |"
    assert read_map(dst / "text")["sp1.1-spkA-1"] == "HELLO"
    assert read_map(dst / "utt2spk")["sp0.9-spkB-1"] == "sp0.9-spkB"
    assert read_map(dst / "spk2utt")["sp0.9-spkA"] == "sp0.9-spkA-1"
    assert not (dst / "utt2num_samples").exists()  # lengths changed


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
def test_perturbed_entries_play_at_new_speed(make_data_dir, tmp_path):
    src = make_data_dir(UTTS)
    speed_perturb(src, tmp_path / "sp", ["0.8"])
    x, fs = read_audio(read_map(tmp_path / "sp" / "wav.scp")["sp0.8-spkA-1"])
    assert fs == 16000
    assert abs(x.shape[0] - 8000 / 0.8) < 50, x.shape


def test_cli_rejects_bad_factor_and_bad_dir(make_data_dir, tmp_path):
    src = make_data_dir(UTTS)
    with pytest.raises(SystemExit, match="speed factor must be > 0"):
        main(["--factors", "0.9 -1", str(src), str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="duplicate speed factors"):
        main(["--factors", "1.0 1", str(src), str(tmp_path / "o")])
    (src / "text").write_text("spkA-1 HELLO\n")
    with pytest.raises(SystemExit, match="utt 'spkB-1' has no entry in text"):
        main(["--factors", "0.9", str(src), str(tmp_path / "o")])
