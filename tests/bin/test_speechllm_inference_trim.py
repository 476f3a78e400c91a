"""--trim_silence_db: the silence around an utterance is cut before it is encoded."""

import numpy as np
import pytest
import soundfile

from espnet_speechllm.bin.speech2text_llm_streaming import Speech2TextLLMStreaming
from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM, main


@pytest.fixture(scope="module")
def wavs(an4_dirs):
    rows = (an4_dirs / "test" / "wav.scp").read_text().split("\n")
    return {k: soundfile.read(p, dtype="float32")[0] for k, p in (r.split() for r in rows if r)}


def _s2t(exp, **kw) -> Speech2TextLLM:
    return Speech2TextLLM(exp / "config.yaml", exp / "valid.acc.ave.pth", min_new_tokens=2, **kw)


@pytest.fixture(scope="module")
def trimming(trained_exp):
    return _s2t(trained_exp, trim_silence_db=35, trim_silence_keep=(0.0, 0.0))


def _padded(wav: np.ndarray) -> np.ndarray:
    """0.5 s of zeros before (a whole number of 10 ms hops) and 1 s after."""
    return np.concatenate([np.zeros(8000, np.float32), wav, np.zeros(16000, np.float32)])


def _encoded_lengths(s2t, monkeypatch):
    seen = []
    prepare = s2t.model.prepare_decoding

    def spy(speech, lens, **kw):
        seen.append(lens.tolist())
        return prepare(speech, lens, **kw)

    monkeypatch.setattr(s2t.model, "prepare_decoding", spy)
    return seen


def test_padding_with_silence_decodes_as_the_utterance(trimming, trained_exp, wavs, monkeypatch):
    seen = _encoded_lengths(trimming, monkeypatch)
    for key, wav in wavs.items():
        assert trimming(_padded(wav)) == trimming(wav), key
    alone, padded = seen[1::2], seen[0::2]
    assert padded == alone  # the same samples reach the encoder
    assert all(n[0] < len(wavs[k]) for n, k in zip(alone, wavs))  # mini_an4 opens with silence
    plain = _s2t(trained_exp)
    seen_plain = _encoded_lengths(plain, monkeypatch)
    wav = next(iter(wavs.values()))
    plain(_padded(wav))
    assert seen_plain == [[len(wav) + 24000]]  # off by default


def test_trimmed_batch_equals_one_by_one(trimming, wavs):
    keys = list(wavs)
    batch = trimming.batch([_padded(wavs[k]) for k in keys], keys)
    assert batch == [trimming.batch([_padded(wavs[k])], [k])[0] for k in keys]


def test_bad_trim_options_are_refused(trained_exp):
    with pytest.raises(ValueError, match="--trim_silence_db 0.0 must be > 0"):
        _s2t(trained_exp, trim_silence_db=0.0)
    with pytest.raises(ValueError, match="--trim_silence_keep '0.3': expected <lead>_<trail>"):
        _s2t(trained_exp, trim_silence_db=35.0, trim_silence_keep="0.3")  # a decode YAML's string
    with pytest.raises(ValueError, match="is for offline decoding"):
        Speech2TextLLMStreaming(
            trained_exp / "config.yaml", trained_exp / "valid.acc.ave.pth", trim_silence_db=35.0
        )


def test_main_trims_with_the_kept_seconds(trained_exp, trimming, wavs, tmp_path):
    key, wav = next(iter(wavs.items()))
    soundfile.write(tmp_path / "a.wav", _padded(wav), 16000)
    (tmp_path / "wav.scp").write_text(f"{key} {tmp_path / 'a.wav'}\n")
    out = tmp_path / "decode"
    main([
        "--output_dir", str(out), "--data_path_and_name_and_type", f"{tmp_path / 'wav.scp'},speech,sound",
        "--train_config", str(trained_exp / "config.yaml"),
        "--model_file", str(trained_exp / "valid.acc.ave.pth"), "--num_workers", "0",
        "--min_new_tokens", "2", "--trim_silence_db", "35", "--trim_silence_keep", "0.0_0.0",
    ])  # fmt: skip
    text = (out / "1best_recog" / "text").read_text().split(" ", 1)[1].strip()
    assert text == trimming(wav)[0].text
