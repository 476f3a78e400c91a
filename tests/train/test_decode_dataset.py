"""DecodeDataset: wav.scp entries read as the model takes them; bad ones named, not fatal."""

import numpy as np
import pytest
import soundfile
import torch

from espnet_speechllm.tasks.common import collate_fn
from espnet_speechllm.train.decode_dataset import DecodeCollate, DecodeDataset
from espnet_speechllm.utils.kaldi_io import KaldiFormatError


def _tone(n, fs, f=440.0):
    return (0.3 * np.sin(2 * np.pi * f * np.arange(n) / fs)).astype(np.float32)


@pytest.fixture
def scp(tmp_path):
    """u1 good, u2 missing, u3 corrupt header, 'u4 x' an id with a space, u5 44.1 kHz
    stereo, u6 NaN samples (a float wav), u7 8 kHz."""
    w = tmp_path / "wav"
    w.mkdir()
    soundfile.write(w / "u1.wav", _tone(3200, 16000), 16000)
    (w / "u3.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    soundfile.write(w / "u4.wav", _tone(1600, 16000), 16000)
    soundfile.write(w / "u5.wav", np.stack([_tone(4410, 44100), _tone(4410, 44100, 880)], 1), 44100)
    nan = _tone(1600, 16000)
    nan[3] = np.nan
    soundfile.write(w / "u6.wav", nan, 16000, subtype="FLOAT")
    soundfile.write(w / "u7.wav", _tone(800, 8000), 8000)
    lines = [
        f"u1 {w}/u1.wav", f"u2 {w}/missing.wav", f"u3 {w}/u3.wav", f"u4 x {w}/u4.wav",
        f"u5 {w}/u5.wav", f"u6 {w}/u6.wav", f"u7 {w}/u7.wav",
    ]  # fmt: skip
    path = tmp_path / "wav.scp"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_each_entry_is_read_or_named(scp):
    ds = DecodeDataset([(str(scp), "speech", "sound")], fs=16000)
    items = {key: (data, reason) for key, data, reason in (ds[i] for i in range(len(ds)))}
    assert list(items) == ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
    w = scp.parent / "wav"
    assert items["u1"][1] == "" and items["u1"][0]["speech"].shape == (3200,)
    assert items["u2"] == (None, f"u2: {scp}:2: {w}/missing.wav: no such file")
    assert items["u3"][0] is None
    assert items["u3"][1].startswith(f"u3: {scp}:3: {w}/u3.wav: unreadable: ")
    assert items["u4"] == (
        None,
        f"u4: {scp}:4: x {w}/u4.wav: no such file; is the id 'u4 x'? "
        "(ids cannot hold whitespace: the id ends at the first space)",
    )
    speech = items["u5"][0]["speech"]  # 0.1 s of 44.1 kHz stereo -> 0.1 s at 16 kHz, mono
    assert speech.shape == (1600,) and speech.dtype == np.float32
    assert items["u6"] == (
        None, f"u6: {scp}:6: {w}/u6.wav: 1 non-finite samples (NaN / inf), the first at sample 3"
    )  # fmt: skip
    assert items["u7"][0]["speech"].shape == (1600,)


def test_refusing_other_rates(scp):
    ds = DecodeDataset([(str(scp), "speech", "sound")], fs=16000, allow_resample=False)
    key, data, reason = ds[6]
    assert key == "u7" and data is None
    assert reason.endswith("u7.wav: sampled at 8000 Hz, the model takes 16000 Hz (resampling is off)")


def test_key_file_and_text_entries(scp, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("u7 whatever\nu1\n")
    text = tmp_path / "instruction"
    text.write_text("u1 Say it.\nu7 Say it twice.\n")
    data = [(str(scp), "speech", "sound"), (str(text), "instruction", "text")]
    ds = DecodeDataset(data, fs=16000, key_file=str(keys))
    assert [ds[i][0] for i in range(len(ds))] == ["u7", "u1"]
    assert ds[0][1]["instruction"] == "Say it twice."
    text.write_text("u1 Say it.\n")
    with pytest.raises(KaldiFormatError, match="instruction: no entry for 1 utt"):
        DecodeDataset(data, fs=16000, key_file=str(keys))
    keys.write_text("u1\nu9\n")
    with pytest.raises(KaldiFormatError, match="wav.scp: no entry for 1 utt.*'u9'"):
        DecodeDataset(data[:1], fs=16000, key_file=str(keys))
    with pytest.raises(ValueError, match="feats.scp,speech,kaldi_ark: decoding reads the types sound and text"):
        DecodeDataset([("feats.scp", "speech", "kaldi_ark")], fs=16000)


def test_collate_keeps_the_order_and_sets_the_bad_apart(scp):
    ds = DecodeDataset([(str(scp), "speech", "sound")], fs=16000)
    item = DecodeCollate(collate_fn())([ds[i] for i in (0, 1, 4)])
    assert item.keys == ["u1", "u2", "u5"] and item.good_keys == ["u1", "u5"]
    assert list(item.bad) == ["u2"] and item.bad["u2"].endswith("no such file")
    assert item.batch["speech_lengths"].tolist() == [3200, 1600]
    assert torch.equal(item.batch["speech"][0], torch.from_numpy(ds[0][1]["speech"]))
    none = DecodeCollate(collate_fn())([ds[1]])
    assert none.batch is None and none.good_keys == []


def test_a_duplicated_id_names_both_lines(scp):
    scp.write_text(scp.read_text() + f"u1 {scp.parent}/wav/u1.wav\n")
    with pytest.raises(KaldiFormatError, match=f"wav.scp:8: id 'u1' duplicated \\(first at {scp}:1\\)"):
        DecodeDataset([(str(scp), "speech", "sound")], fs=16000)
