import logging
import os

import numpy as np
import pytest
import soundfile

from espnet_speechllm.recipe.format_wav_scp import format_wav_scp, main, to_pcm16
from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map, write_map


def test_to_pcm16_is_exact_for_16bit_input():
    pcm = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    assert np.array_equal(to_pcm16(pcm / 32768.0), pcm)
    assert np.array_equal(to_pcm16(np.array([1.5, -1.5])), [32767, -32768])  # clipped


@pytest.fixture
def mixed_dir(make_data_dir, sine_wav, tmp_path):
    """Good, resampled, stereo and piped entries, plus four kinds of bad entries."""
    utts = {f"u{i}": (f"WORD {i}", "spk", 1600) for i in range(1, 9)}
    d = make_data_dir(utts)
    wavs = tmp_path / "data_wav"
    sine_wav(wavs / "u2.wav", 800, fs=8000)
    sine_wav(wavs / "u3.wav", 1600, channels=2)
    soundfile.write(
        wavs / "u5.wav", np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16"
    )
    (wavs / "u6.wav").write_text("not audio")
    scp = read_map(d / "wav.scp")
    scp["u4"] = f"cat {wavs / 'u4.wav'} |"
    scp["u7"] = str(wavs / "missing.wav")
    scp["u8"] = "echo oops >&2; false |"
    write_map(d / "wav.scp", scp)
    return d


def test_format_converts_and_skips_bad_entries(mixed_dir, tmp_path, caplog):
    dst = tmp_path / "dump"
    with caplog.at_level(logging.WARNING):
        bad = format_wav_scp(mixed_dir, dst, fs=16000, nj=2)

    reasons = read_map(dst / "bad_utts.txt")
    assert sorted(r.utt for r in bad) == sorted(reasons) == ["u5", "u6", "u7", "u8"]
    assert reasons["u5"].startswith("zero-length audio")
    assert reasons["u6"].startswith("unreadable")
    assert reasons["u7"] == f"file not found: {tmp_path / 'data_wav' / 'missing.wav'}"
    assert reasons["u8"] == "command failed (code 1): oops: echo oops >&2; false |"
    assert "u7" in caplog.text and "missing.wav" in caplog.text
    assert "u3: 2 channels downmixed to mono" in caplog.text

    validate(dst)
    assert sorted(read_map(dst / "text")) == ["u1", "u2", "u3", "u4"]
    assert read_map(dst / "spk2utt") == {"spk": "u1 u2 u3 u4"}
    assert read_map(dst / "utt2num_samples") == {
        "u1": "1600",
        "u2": "1600",
        "u3": "1600",
        "u4": "1600",
    }
    assert (dst / "feats_type").read_text() == "raw\n"
    wav = read_map(dst / "wav.scp")
    for utt in ("u1", "u2", "u3", "u4"):
        assert wav[utt] == str(dst / "data" / f"{utt}.wav")
        info = soundfile.info(wav[utt])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    # 16-bit input at the target rate comes out sample-identical (plain and piped)
    for utt in ("u1", "u4"):
        src, _ = soundfile.read(tmp_path / "data_wav" / f"{utt}.wav", dtype="int16")
        out, _ = soundfile.read(wav[utt], dtype="int16")
        assert np.array_equal(src, out)
    # stereo is the channel mean
    left_right, _ = soundfile.read(tmp_path / "data_wav" / "u3.wav", dtype="int16")
    out, _ = soundfile.read(wav["u3"], dtype="int16")
    assert np.abs(out - left_right.mean(axis=1)).max() <= 1


def test_rerun_skips_finished_dir_until_source_changes(make_data_dir, tmp_path, caplog):
    src = make_data_dir({"u1": ("A", "s", 800)})
    dst = tmp_path / "dump"
    format_wav_scp(src, dst, fs=16000)
    out_wav = dst / "data" / "u1.wav"
    stamp = out_wav.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        format_wav_scp(src, dst, fs=16000)
    assert "up to date" in caplog.text
    assert out_wav.stat().st_mtime_ns == stamp
    later = (dst / ".done").stat().st_mtime + 10
    os.utime(src / "wav.scp", (later, later))  # a date alone is no change
    format_wav_scp(src, dst, fs=16000)
    assert out_wav.stat().st_mtime_ns == stamp
    os.utime(tmp_path / "data_wav" / "u1.wav", (later, later))  # the audio may differ
    format_wav_scp(src, dst, fs=16000)
    assert out_wav.stat().st_mtime_ns != stamp


def test_an_edited_transcript_reaches_the_dump(make_data_dir, tmp_path, caplog):
    # Before: only wav.scp's date counted, and dump/ kept the old transcript.
    src = make_data_dir({"u1": ("A", "s", 800), "u2": ("B", "s", 800)})
    dst = tmp_path / "dump"
    format_wav_scp(src, dst, fs=16000)
    stamp = (dst / "data" / "u1.wav").stat().st_mtime_ns
    write_map(src / "text", {"u1": "A EDITED", "u2": "B"})
    write_map(src / "utt2lang", {"u1": "en", "u2": "en"})
    with caplog.at_level(logging.INFO):
        format_wav_scp(src, dst, fs=16000)
    assert "text utt2lang changed" in caplog.text
    assert read_map(dst / "text") == {"u1": "A EDITED", "u2": "B"}
    assert read_map(dst / "utt2lang") == {"u1": "en", "u2": "en"}
    assert (dst / "data" / "u1.wav").stat().st_mtime_ns == stamp  # audio not redone
    assert read_map(dst / "wav.scp")["u1"] == str(dst / "data" / "u1.wav")
    assert read_map(dst / "utt2num_samples") == {"u1": "800", "u2": "800"}
    validate(dst)
    (src / "utt2lang").unlink()
    format_wav_scp(src, dst, fs=16000)
    assert not (dst / "utt2lang").exists()
    write_map(src / "wav.scp", {"u1": read_map(src / "wav.scp")["u1"]})
    format_wav_scp(src, dst, fs=16000)  # a new wav.scp: redone
    assert sorted(read_map(dst / "text")) == sorted(read_map(dst / "wav.scp")) == ["u1"]


def test_non_finite_audio_is_skipped_and_named(make_data_dir, tmp_path):
    # Before: NaN samples were cast to int16 garbage (or, in a float dump, made
    # feats_stats.npz all NaN); now the utterance goes to bad_utts.txt.
    src = make_data_dir({"u1": ("A", "s", 800), "u2": ("B", "s", 800)})
    x = np.zeros(800, dtype=np.float32)
    x[10], x[20] = np.nan, np.inf
    soundfile.write(tmp_path / "data_wav" / "u2.wav", x, 16000, subtype="FLOAT")
    dst = tmp_path / "dump"
    bad = format_wav_scp(src, dst, fs=16000)
    assert [r.utt for r in bad] == ["u2"]
    reason = read_map(dst / "bad_utts.txt")["u2"]
    assert reason.startswith("2 non-finite sample(s) (NaN/inf), the first at sample 10")
    assert sorted(read_map(dst / "wav.scp")) == sorted(read_map(dst / "text")) == ["u1"]


def test_nothing_readable_is_an_error(make_data_dir, tmp_path):
    src = make_data_dir({"u1": ("A", "s", 800)})
    write_map(src / "wav.scp", {"u1": str(tmp_path / "gone.wav")})
    with pytest.raises(SystemExit, match="no utterance of .*wav.scp could be read"):
        main(["--fs", "16000", str(src), str(tmp_path / "dump")])
    assert "u1 file not found" in (tmp_path / "dump" / "bad_utts.txt").read_text()


def test_segments_are_cut_into_utterances(segmented_dir, tmp_path):
    src, rec1, rec2 = segmented_dir
    with pytest.raises(ValueError, match="segments: utt 'spk3-e': recording 'rec9' is not in wav.scp"):
        validate(src)  # the one problem of this segmented dir
    dst = tmp_path / "dump"
    bad = format_wav_scp(src, dst, fs=16000, nj=2)
    reasons = read_map(dst / "bad_utts.txt")
    assert sorted(r.utt for r in bad) == sorted(reasons) == ["spk2-d", "spk3-e"]
    assert reasons["spk2-d"].startswith("segment 1.5-1.9 s starts after the end of recording 'rec2' (1.000 s)")
    assert reasons["spk3-e"].startswith("recording 'rec9' not in wav.scp")

    validate(dst)
    assert not (dst / "segments").exists() and not (dst / "reco2file_and_channel").exists()
    assert read_map(dst / "text") == {u: f"WORDS OF {u}" for u in ("spk1-a", "spk1-b", "spk2-c")}
    assert read_map(dst / "utt2num_samples") == {"spk1-a": "8000", "spk1-b": "12000", "spk2-c": "8000"}
    assert read_map(dst / "spk2utt") == {"spk1": "spk1-a spk1-b", "spk2": "spk2-c"}
    wav = read_map(dst / "wav.scp")
    for utt, want in (("spk1-a", rec1[:8000]), ("spk1-b", rec1[20000:]), ("spk2-c", rec2[8000:])):
        out, fs = soundfile.read(wav[utt], dtype="int16")
        assert fs == 16000 and np.array_equal(out, want), utt


def test_segments_are_cut_after_resampling_the_times(sine_wav, tmp_path):
    """Times are seconds: an 8 kHz recording's segment lands on the same span at 16 kHz."""
    d = tmp_path / "seg8k"
    d.mkdir()
    sine_wav(tmp_path / "r.wav", 8000, fs=8000)
    write_map(d / "wav.scp", {"r": str(tmp_path / "r.wav")})
    write_map(d / "segments", {"u": "r 0.25 0.75"})
    write_map(d / "text", {"u": "HI"})
    format_wav_scp(d, tmp_path / "dump", fs=16000)
    assert read_map(tmp_path / "dump" / "utt2num_samples") == {"u": "8000"}


def test_malformed_segments_line_is_named(segmented_dir, tmp_path):
    src, _, _ = segmented_dir
    (src / "segments").write_text("spk1-a rec1 0.5\n")
    with pytest.raises(SystemExit, match=r"segments:1: utt 'spk1-a': expected"):
        main(["--fs", "16000", str(src), str(tmp_path / "dump")])
