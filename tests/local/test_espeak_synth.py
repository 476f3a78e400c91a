import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

import espeak_synth
from espeak_synth import (
    SynthItem,
    check_tools,
    read_items,
    speaker_id,
    synthesise,
    write_items,
    write_kaldi_dir,
)
from espnet_speechllm.recipe.kaldi_dir import validate

needs_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng or sox not installed",
)


def _item(voice: str, rate: int, pitch: int, index: int, text: str) -> SynthItem:
    return SynthItem(
        f"{speaker_id(voice, rate, pitch)}-{index:05d}", text, voice, rate, pitch
    )


# Listed out of order on purpose: the data dir must come out sorted anyway.
ITEMS = [
    _item("en-us+f3", 180, 60, 1, "US AND IT WENT HOME"),
    _item("en-gb-scotland", 150, 40, 0, "LET THERE BE LIGHT"),
]


def _read(path: Path) -> list:
    return path.read_text().splitlines()


def test_speaker_id():
    assert speaker_id("en-gb-scotland+f3", 160, 45) == "engbscotland_f3_r160_p45"
    assert speaker_id("en", 90, 5) == "en_r090_p05"
    with pytest.raises(ValueError, match="pitch=120"):
        speaker_id("en", 160, 120)


def test_items_round_trip(tmp_path):
    write_items(ITEMS, tmp_path / "items.tsv")
    assert read_items(tmp_path / "items.tsv") == ITEMS


def test_read_items_names_bad_line(tmp_path):
    (tmp_path / "bad.tsv").write_text("a-1\ten\t170\t50\tHELLO\nb-2 en 170 50 HELLO\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 5 tab-separated fields"):
        read_items(tmp_path / "bad.tsv")


def test_missing_binary_names_apt_package(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty dir: nothing is found
    with pytest.raises(RuntimeError, match=r"espeak-ng \(apt-get install espeak-ng\)"):
        check_tools()
    with pytest.raises(RuntimeError, match=r"sox \(apt-get install sox\)"):
        synthesise(ITEMS, tmp_path / "wav")


def test_write_kaldi_dir_rejects_id_without_speaker_prefix(tmp_path):
    item = SynthItem("utt1", "HELLO", "en", 170, 50)
    with pytest.raises(ValueError, match="utt id utt1 must start with its speaker id"):
        write_kaldi_dir([item], {"utt1": tmp_path / "x.wav"}, tmp_path / "data")


def test_duplicate_utt_id_rejected(tmp_path):
    with pytest.raises(ValueError, match="duplicate utt id"):
        synthesise([ITEMS[0], ITEMS[0]], tmp_path / "wav")


@needs_tools
def test_cli_synthesises_sorted_kaldi_dir(tmp_path):
    write_items(ITEMS, tmp_path / "items.tsv")
    opts = f"--wav_dir {tmp_path / 'wav'} --data_dir {tmp_path / 'data'} --nj 2"
    espeak_synth.main(["--items", str(tmp_path / "items.tsv")] + opts.split())
    data = tmp_path / "data"
    validate(data, need=["wav.scp", "text", "utt2spk", "spk2utt", "utt2dur"])
    ids = sorted(it.utt_id for it in ITEMS)
    assert [line.split()[0] for line in _read(data / "wav.scp")] == ids
    assert _read(data / "text") == [
        f"{ids[0]} LET THERE BE LIGHT",
        f"{ids[1]} US AND IT WENT HOME",
    ]
    assert _read(data / "utt2spk") == [
        f"{ids[0]} engbscotland_r150_p40",
        f"{ids[1]} enus_f3_r180_p60",
    ]
    assert _read(data / "spk2utt") == [
        f"engbscotland_r150_p40 {ids[0]}",
        f"enus_f3_r180_p60 {ids[1]}",
    ]
    for line, dur_line in zip(_read(data / "wav.scp"), _read(data / "utt2dur")):
        utt, path = line.split()
        assert Path(path).is_absolute() and path == str(tmp_path / "wav" / f"{utt}.wav")
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 0.5 < info.duration < 5.0
        assert float(dur_line.split()[1]) == pytest.approx(info.duration, abs=1e-3)
        audio, _ = soundfile.read(path)
        assert np.abs(audio).max() > 0.05  # speech, not silence
    assert not list((tmp_path / "wav").glob("*.tmp.wav"))


@needs_tools
def test_synthesis_is_deterministic_and_reads_caps_as_words(tmp_path):
    first = synthesise(ITEMS[:1], tmp_path / "a")
    again = synthesise(ITEMS[:1], tmp_path / "b")
    utt = ITEMS[0].utt_id
    assert first[utt].read_bytes() == again[utt].read_bytes()
    # "US" read as a word, not spelled "U S": same audio as the lower-cased text.
    lower = SynthItem(utt, ITEMS[0].text.lower(), *(ITEMS[0].voice, 180, 60))
    assert (
        synthesise([lower], tmp_path / "c")[utt].read_bytes() == first[utt].read_bytes()
    )


@needs_tools
def test_unknown_voice_error_names_utterance(tmp_path):
    item = _item("xx-nosuchvoice", 170, 50, 0, "HELLO")
    with pytest.raises(RuntimeError, match=f"utterance {item.utt_id} .*voice does not"):
        synthesise([item], tmp_path / "wav")
    assert not list((tmp_path / "wav").iterdir())


needs_flite = pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("sox") is None,
    reason="flite or sox not installed",
)


def test_missing_flite_names_apt_package_only_for_flite_voices(monkeypatch, tmp_path):
    for tool in ("espeak-ng", "sox"):  # fakes on PATH, flite absent
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    check_tools()  # espeak-ng voices only: flite is not needed
    with pytest.raises(RuntimeError, match=r"flite \(apt-get install flite\)"):
        synthesise([_item("flite:slt", 170, 50, 0, "HELLO")], tmp_path / "wav")


@needs_flite
def test_flite_voice_rate_and_pitch(tmp_path):
    slow, fast, high = (
        _item("flite:slt", 120, 50, 0, "LET THERE BE LIGHT"),
        _item("flite:slt", 240, 50, 1, "LET THERE BE LIGHT"),
        _item("flite:slt", 120, 80, 2, "LET THERE BE LIGHT"),
    )
    paths = synthesise([slow, fast, high], tmp_path / "wav", nj=2)
    assert slow.speaker == "fliteslt_r120_p50"
    durs = {it.utt_id: soundfile.info(str(paths[it.utt_id])).duration for it in (slow, fast, high)}
    info = soundfile.info(str(paths[slow.utt_id]))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    # rate 120 wpm stretches durations by 175/120, 240 by 175/240: about twice as long
    assert 1.6 < durs[slow.utt_id] / durs[fast.utt_id] < 2.4
    # the pitch shift keeps the duration and changes the audio
    assert durs[high.utt_id] == pytest.approx(durs[slow.utt_id], rel=0.02)
    a, _ = soundfile.read(str(paths[slow.utt_id]))
    b, _ = soundfile.read(str(paths[high.utt_id]))
    assert np.abs(a).max() > 0.05 and not np.allclose(a[: len(b)], b[: len(a)])
    again = synthesise([slow], tmp_path / "again")
    assert again[slow.utt_id].read_bytes() == paths[slow.utt_id].read_bytes()
    assert not [p for p in (tmp_path / "wav").iterdir() if ".tmp" in p.name or ".flite" in p.name]


@needs_flite
def test_unknown_flite_voice_error_names_utterance(tmp_path):
    # flite itself reads an unknown voice with its default voice and exits 0
    item = _item("flite:nosuch", 170, 50, 0, "HELLO")
    with pytest.raises(ValueError, match=f"utterance {item.utt_id}: flite has no voice 'nosuch'"):
        synthesise([_item("flite:slt", 170, 50, 1, "HI"), item], tmp_path / "wav")
    assert not (tmp_path / "wav").exists() or not list((tmp_path / "wav").iterdir())
