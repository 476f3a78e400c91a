import numpy as np
import pytest
import soundfile

from espnet_speechllm.recipe.check_train_inputs import main


def _split(tmp_path, wav: str, text: str, name: str = "train"):
    d = tmp_path / name
    d.mkdir()
    (d / "wav.scp").write_text(wav)
    (d / "text").write_text(text)
    return [f"--{name}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
            f"--{name}_data_path_and_name_and_type", f"{d}/text,text,text"]  # fmt: skip


def _problems(argv) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return str(e.value)


WAV = "u1 a.wav\nu2 b.wav\nu3 c.wav\n"


def test_good_inputs_pass(tmp_path, capsys):
    main(_split(tmp_path, WAV, "u1 A\nu2 B\nu3 C\n") + _split(tmp_path, "v1 a.wav\n", "v1 A\n", "valid"))
    assert "check_train_inputs: OK (train 3 utts, valid 1 utts)" in capsys.readouterr().out


def test_other_keys_are_named_with_file_and_line(tmp_path):
    # ESPnet (stage 10): "Keys are mismatched. Text files (idx=1) is not sorted or not
    # having same keys at L6" -- no file, no utterance, a line count of both files.
    msg = _problems(_split(tmp_path, WAV, "u1 A\nu2 B\nu4 D\n"))
    d = tmp_path / "train"
    assert "2 problem(s)" in msg
    assert f"{d}/text:3: utt 'u4' is not in {d}/wav.scp" in msg
    assert f"{d}/wav.scp:3: utt 'u3' has no entry in {d}/text" in msg


def test_an_empty_transcript_is_named_at_its_line(tmp_path):
    # ESPnet: "This line doesn't include a space: ...:L4" for line 2 of text.
    msg = _problems(_split(tmp_path, WAV, "u1 A\nu2\nu3 C\n"))
    assert f"{tmp_path}/train/text:2: utt 'u2' has an empty transcript" in msg


def test_the_same_utts_in_another_order_are_refused(tmp_path):
    msg = _problems(_split(tmp_path, WAV, "u1 A\nu3 C\nu2 B\n"))
    assert f"text:2: utt 'u3' where {tmp_path}/train/wav.scp:2 has 'u2'" in msg
    assert "same order" in msg


def test_duplicates_and_malformed_lines(tmp_path):
    msg = _problems(_split(tmp_path, WAV + "u1 d.wav\n", "u1 A\n\nu3 C\n"))
    assert "wav.scp:4: utt 'u1' duplicated (first at line 1)" in msg
    assert "text:2: blank line" in msg


def test_stale_shape_files_say_to_rerun_stage_10(tmp_path):
    shape = tmp_path / "speech_shape"
    shape.write_text("u1 1600\nu2 1600\nu9 1600\n")
    msg = _problems(_split(tmp_path, WAV, "u1 A\nu2 B\nu3 C\n") + ["--train_shape_file", str(shape)])
    assert f"{shape}:3: utt 'u9' is not in {tmp_path}/train/wav.scp" in msg
    assert f"wav.scp:3: utt 'u3' is not in {shape}" in msg and "run stage 10 again" in msg


def test_non_finite_stats_and_audio_are_named(tmp_path):
    stats = tmp_path / "feats_stats.npz"
    np.savez(stats, count=np.array(3), sum=np.array([1.0, np.nan]), sum_square=np.ones(2))
    good, nan = tmp_path / "good.wav", tmp_path / "nan.wav"
    soundfile.write(good, np.zeros(160, dtype=np.int16), 16000, subtype="PCM_16")
    x = np.zeros(160, dtype=np.float32)
    x[5] = np.nan
    soundfile.write(nan, x, 16000, subtype="FLOAT")
    argv = _split(tmp_path, f"u1 {good}\nu2 {nan}\n", "u1 A\nu2 B\n") + ["--stats_file", str(stats)]
    msg = _problems(argv)
    assert f"{stats}: 'sum' holds 1 non-finite value(s)" in msg
    assert "nan.wav" not in msg  # audio is read with --check_audio true only (stage 10)
    msg = _problems(argv + ["--check_audio", "true"])
    assert f"wav.scp:2: utt 'u2': 1 non-finite sample(s) (NaN/inf) in {nan}" in msg
    assert "utt 'u1'" not in msg
