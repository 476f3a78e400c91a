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


def test_max_tokens_per_second_caps_each_row_as_if_decoded_alone(tiny_whisper_dir, tmp_path):
    # 1 s and 0.3125 s: caps ceil(4 * s) + 4 = 8 and 6 new tokens
    scp = _scp(tmp_path, [16000, 5000])
    runs = {}
    for name, bs, rate in (("free", 2, []), ("capped", 2, ["4"]), ("alone", 1, ["4"])):
        extra = ["--max_tokens_per_second", *rate] if rate else []
        wi.main(["--model_dir", str(tiny_whisper_dir), "--data_path_and_name_and_type",
                 f"{scp},speech,sound", "--batch_size", str(bs), "--max_new_tokens", "14",
                 "--output_dir", str(tmp_path / name), *extra])  # fmt: skip
        runs[name] = {u: v.split() for u, v in read_map(tmp_path / name / "1best_recog" / "token_int").items()}
    assert runs["capped"] == runs["alone"]
    for utt, cap in (("u0", 8), ("u1", 6)):
        free, capped = runs["free"][utt], runs["capped"][utt]
        assert len(free) > cap  # the random model runs on: the cap is what stops it
        assert capped == free[: len(capped)] and cap - 2 <= len(capped) <= cap
    with pytest.raises(SystemExit, match="max_tokens_per_second must be > 0"):
        wi.main(["--model_dir", str(tiny_whisper_dir), "--data_path_and_name_and_type",
                 f"{scp},speech,sound", "--output_dir", str(tmp_path / "z"),
                 "--max_tokens_per_second", "0"])  # fmt: skip


def test_skips_as_silence_is_openai_whispers_rule():
    # no_speech > 0.6 and the mean log-prob over text + end of text < -1.0
    assert wi.skips_as_silence(0.7, -9.0, 2, 0.6, -1.0)  # mean -3
    assert not wi.skips_as_silence(0.7, -2.0, 3, 0.6, -1.0)  # mean -0.5: confident words stay
    assert not wi.skips_as_silence(0.5, -9.0, 2, 0.6, -1.0)  # likely speech
    assert not wi.skips_as_silence(0.9, -9.0, 2, None, -1.0)  # rule off
    assert not wi.skips_as_silence(None, -9.0, 2, 0.6, -1.0)  # no no-speech token


def test_no_speech_threshold_empties_the_text_only(tiny_whisper_dir, tmp_path):
    from transformers import AutoTokenizer

    scp = _scp(tmp_path, [16000, 5000])
    token = AutoTokenizer.from_pretrained(tiny_whisper_dir).convert_ids_to_tokens(7)
    base = ["--model_dir", str(tiny_whisper_dir), "--data_path_and_name_and_type", f"{scp},speech,sound",
            "--max_new_tokens", "3", "--no_speech_token", token]  # fmt: skip

    def run(name, *extra):
        wi.main([*base, "--output_dir", str(tmp_path / name), *extra])
        return {n: read_map(tmp_path / name / "1best_recog" / n) for n in ("text", "token_int", "no_speech_prob")}

    plain = run("plain")
    p = max(float(v) for v in plain["no_speech_prob"].values())
    assert all(plain["text"].values())
    # the random model's mean log-prob is below 0 but above -1e6: the probability threshold decides
    # only beside a log-prob threshold that holds too
    low = run("low", "--no_speech_threshold", str(p / 2), "--logprob_threshold", "0")
    assert all(v == "" for v in low["text"].values()) and low["token_int"] == plain["token_int"]
    assert run("high", "--no_speech_threshold", str(p * 2), "--logprob_threshold", "0")["text"] == plain["text"]
    assert run("sure", "--no_speech_threshold", str(p / 2), "--logprob_threshold", "-1000000.0")["text"] == plain["text"]
    with pytest.raises(ValueError, match="--no_speech_threshold: .* has no no-speech token"):
        wi.decode(str(tiny_whisper_dir), scp, tmp_path / "e", no_speech_threshold=0.6)
