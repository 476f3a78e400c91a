"""local/lhotse_to_kaldi.py and local/kaldi_to_lhotse.py: Lhotse manifests <-> Kaldi dirs,
through lhotse's own exporter/importer, and on through stage 3 (segments cut)."""

from pathlib import Path

import lhotse  # a dependency of the project (setup.py)
import numpy as np
import pytest
import soundfile

import kaldi_to_lhotse
import lhotse_to_kaldi
from data_dirs import write_sine
from espnet_speechllm.recipe.format_wav_scp import format_wav_scp
from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map


@pytest.fixture
def manifests(tmp_path):
    """Two recordings; three supervisions, two of them in the 2 s recording."""
    write_sine(tmp_path / "long.wav", 32000)
    write_sine(tmp_path / "short.wav", 8000)
    recs = lhotse.RecordingSet.from_recordings(
        [lhotse.Recording.from_file(tmp_path / f"{n}.wav", recording_id=n) for n in ("long", "short")]
    )
    sup = lhotse.SupervisionSegment
    sups = lhotse.SupervisionSet.from_segments([
        sup("spk1-a", "long", 0.0, 0.5, text="HELLO WORLD", speaker="spk1"),
        sup("spk1-b", "long", 1.25, 0.75, text="GOOD MORNING", speaker="spk1"),
        sup("spk2-c", "short", 0.0, 0.5, text="Yes", speaker="spk2"),
    ])  # fmt: skip
    lhotse.CutSet.from_manifests(recordings=recs, supervisions=sups).to_file(tmp_path / "cuts.jsonl.gz")
    recs.to_file(tmp_path / "recordings.jsonl.gz")
    sups.to_file(tmp_path / "supervisions.jsonl.gz")
    return tmp_path


@pytest.mark.parametrize("form", ["cuts", "recordings+supervisions"])
def test_manifests_become_a_kaldi_dir_that_stage_3_cuts(manifests, tmp_path, form, capsys):
    out = tmp_path / "data" / "train"
    if form == "cuts":
        lhotse_to_kaldi.main(["--cuts", str(manifests / "cuts.jsonl.gz"), str(out)])
    else:
        lhotse_to_kaldi.main(["--recordings", str(manifests / "recordings.jsonl.gz"),
                              "--supervisions", str(manifests / "supervisions.jsonl.gz"), str(out)])  # fmt: skip
    assert f"{out}: 3 utterances" in capsys.readouterr().out
    validate(out)
    assert read_map(out / "text") == {"spk1-a": "HELLO WORLD", "spk1-b": "GOOD MORNING", "spk2-c": "Yes"}
    assert read_map(out / "spk2utt") == {"spk1": "spk1-a spk1-b", "spk2": "spk2-c"}
    assert sorted(read_map(out / "wav.scp")) == ["long", "short"]
    dump = tmp_path / "dump"
    assert format_wav_scp(out, dump, fs=16000) == []
    lengths = {k: int(v) for k, v in read_map(dump / "utt2num_samples").items()}
    assert lengths == {"spk1-a": 8000, "spk1-b": 12000, "spk2-c": 8000}
    long, _ = soundfile.read(manifests / "long.wav", dtype="int16")
    cut, _ = soundfile.read(read_map(dump / "wav.scp")["spk1-b"], dtype="int16")
    assert np.array_equal(cut, long[20000:32000])


def test_and_back_to_lhotse(manifests, tmp_path):
    out = tmp_path / "data"
    lhotse_to_kaldi.main(["--cuts", str(manifests / "cuts.jsonl.gz"), str(out)])
    format_wav_scp(out, tmp_path / "dump", fs=16000)
    kaldi_to_lhotse.main(["--fs", "16000", str(tmp_path / "dump"), str(tmp_path / "lh")])
    cuts = lhotse.CutSet.from_file(tmp_path / "lh" / "cuts.jsonl.gz")
    got = {c.supervisions[0].id: (c.supervisions[0].text, c.supervisions[0].speaker, c.duration)
           for c in cuts}  # fmt: skip
    assert got == {"spk1-a": ("HELLO WORLD", "spk1", 0.5), "spk1-b": ("GOOD MORNING", "spk1", 0.75),
                   "spk2-c": ("Yes", "spk2", 0.5)}  # fmt: skip
    assert (tmp_path / "lh" / "recordings.jsonl.gz").is_file()


def test_supervision_without_text_or_speaker_is_named(manifests, tmp_path):
    sups = lhotse.SupervisionSet.from_file(manifests / "supervisions.jsonl.gz")
    bad = lhotse.SupervisionSet.from_segments(
        [s if s.id != "spk1-b" else lhotse.fastcopy(s, text="") for s in sups]
    )
    bad.to_file(tmp_path / "bad.jsonl.gz")
    args = ["--recordings", str(manifests / "recordings.jsonl.gz"), "--supervisions", str(tmp_path / "bad.jsonl.gz")]
    with pytest.raises(SystemExit, match="supervision 'spk1-b' has no text"):
        lhotse_to_kaldi.main(args + [str(tmp_path / "d1")])
    nospk = lhotse.SupervisionSet.from_segments([lhotse.fastcopy(s, speaker=None) for s in sups])
    nospk.to_file(tmp_path / "nospk.jsonl.gz")
    args[-1] = str(tmp_path / "nospk.jsonl.gz")
    with pytest.raises(SystemExit, match="supervision 'spk1-a' has no speaker"):
        lhotse_to_kaldi.main(args + [str(tmp_path / "d2")])
