import numpy as np
import pytest
import soundfile

from espnet_speechllm.bin import whisper_inference as wi
from espnet_speechllm.utils.kaldi_io import read_map


def test_normalize_as_the_espeak_references():
    assert wi.normalize("It's 25-ish, OK?") == "IT'S TWENTY FIVE ISH OK"
    assert wi.normalize(" 'Quoted' words. ") == "QUOTED WORDS"
    assert wi.normalize("March 3rd, 1928.") == "MARCH THIRD NINETEEN TWENTY EIGHT"
    assert wi.normalize("11:27, 1,200 and 2005") == "ELEVEN TWENTY SEVEN ONE THOUSAND TWO HUNDRED AND TWO THOUSAND FIVE"
    assert wi.normalize("Keep  Case, 1", "none") == "Keep Case, 1"
    with pytest.raises(ValueError, match="--normalize: unknown 'x'"):
        wi.normalize("a", "x")


def _scp(tmp_path, lens):
    lines = []
    rng = np.random.default_rng(0)
    for i, n in enumerate(lens):
        wav = tmp_path / f"u{i}.wav"
        soundfile.write(wav, (rng.standard_normal(n) * 3000).astype(np.int16), 16000)
        lines.append(f"u{i} {wav}\n")
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(lines))
    return scp


def test_layout_batched_equals_one_by_one(tiny_whisper_dir, tmp_path):
    scp = _scp(tmp_path, [16000, 8000, 5000])
    keys = tmp_path / "keys"
    keys.write_text("u2 x\nu0 y\n")
    for bs, name in ((2, "batched"), (1, "single")):
        wi.main(["--model_dir", str(tiny_whisper_dir), "--data_path_and_name_and_type",
                 f"{scp},speech,sound", "--key_file", str(keys), "--batch_size", str(bs),
                 "--max_new_tokens", "4", "--output_dir", str(tmp_path / name)])  # fmt: skip
    out = tmp_path / "batched" / "1best_recog"
    files = {n: read_map(out / n) for n in ("text", "token", "token_int", "score")}
    assert all(sorted(f) == ["u0", "u2"] for f in files.values())
    for utt in ("u0", "u2"):
        ids = [int(t) for t in files["token_int"][utt].split()]
        assert 0 < len(ids) <= 4 and all(i not in (0, 1, 2, 3) for i in ids)  # specials dropped
        assert len(files["token"][utt].split()) == len(ids)
        assert float(files["score"][utt]) < 0
        assert files["text"][utt] == files["text"][utt].upper()
    # padding to the window makes a batch decode each utterance as alone
    for n in ("text", "token_int"):
        assert (out / n).read_text() == (tmp_path / "single" / "1best_recog" / n).read_text()


def test_no_speech_prob_is_the_no_speech_token_at_the_start_position(tiny_whisper_dir, tmp_path):
    import torch
    from transformers import AutoTokenizer, WhisperFeatureExtractor, WhisperForConditionalGeneration

    scp = _scp(tmp_path, [16000, 5000])
    token = AutoTokenizer.from_pretrained(tiny_whisper_dir).convert_ids_to_tokens(7)
    wi.main(["--model_dir", str(tiny_whisper_dir), "--data_path_and_name_and_type", f"{scp},speech,sound",
             "--batch_size", "2", "--max_new_tokens", "3", "--no_speech_token", token,
             "--output_dir", str(tmp_path / "o")])  # fmt: skip
    got = read_map(tmp_path / "o" / "1best_recog" / "no_speech_prob")
    # reference: each utterance alone, one full forward from its features at <|startoftranscript|>
    model = WhisperForConditionalGeneration.from_pretrained(tiny_whisper_dir).eval()
    fe = WhisperFeatureExtractor.from_pretrained(tiny_whisper_dir)
    for utt in ("u0", "u1"):
        wave = soundfile.read(tmp_path / f"{utt}.wav", dtype="float32")[0]
        feats = fe([wave], sampling_rate=16000, return_tensors="pt").input_features
        with torch.no_grad():
            logits = model(input_features=feats, decoder_input_ids=torch.tensor([[1]])).logits[0, 0]
        assert float(got[utt]) == pytest.approx(float(logits.softmax(-1)[7]), abs=1e-4)
    # a tokenizer without <|nocaptions|> / <|nospeech|>: no file; an unknown token is named
    wi.decode(str(tiny_whisper_dir), scp, tmp_path / "d", max_new_tokens=2)
    assert sorted(p.name for p in (tmp_path / "d" / "1best_recog").iterdir()) == ["score", "text", "token", "token_int"]
    with pytest.raises(ValueError, match=r"--no_speech_token: '<\|nocaptions\|>' is not in"):
        wi.decode(str(tiny_whisper_dir), scp, tmp_path / "e", no_speech_token="<|nocaptions|>")


def test_errors_name_the_utterance(tiny_whisper_dir, tmp_path):
    scp = _scp(tmp_path, [16001])
    with pytest.raises(ValueError, match="utt 'u0': 16001 samples, longer than"):
        wi.decode(str(tiny_whisper_dir), scp, tmp_path / "o")
    keys = tmp_path / "keys"
    keys.write_text("nope\n")
    with pytest.raises(ValueError, match="wav.scp: no entry for 1 utt"):
        wi.decode(str(tiny_whisper_dir), scp, tmp_path / "o", key_file=keys)
    with pytest.raises(SystemExit, match="expected WAV_SCP,speech,sound"):
        wi.main(["--model_dir", "x", "--data_path_and_name_and_type", f"{scp},speech,kaldi_ark",
                 "--output_dir", str(tmp_path)])  # fmt: skip


def test_text_ids_drop_special_and_ids_beyond_the_tokenizer():
    from espnet_speechllm.bin.whisper_inference import text_ids

    # 51864 rows in the converted tiny.en's output layer, fewer tokens in its tokenizer
    assert text_ids([50257, 400, 51863, 401, 50256], special={50256, 50257},
                    vocab_size=51000) == [400, 401]
