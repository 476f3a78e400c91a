"""Teacher-forced scores of given texts: Speech2TextLLM, WhisperASR and bin/joint_hyp_score."""

import math

import numpy as np
import pytest
import soundfile

from espnet_speechllm.bin import joint_hyp_score as jhs
from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM
from espnet_speechllm.bin.whisper_inference import WhisperASR
from espnet_speechllm.recipe.hyp_select import whisper_form
from espnet_speechllm.utils.kaldi_io import read_map


@pytest.fixture(scope="module")
def wavs(an4_dirs):
    return {k: soundfile.read(p, dtype="float32")[0] for k, p in read_map(an4_dirs / "test" / "wav.scp").items()}


def _s2t(exp, **kw) -> Speech2TextLLM:
    return Speech2TextLLM(exp / "config.yaml", exp / "valid.acc.ave.pth", **kw)


def test_llm_score_of_its_own_hypothesis_is_its_decoding_score(trained_exp, wavs):
    plain, one = _s2t(trained_exp), _s2t(trained_exp, min_new_tokens=1)
    checked = 0
    for key, wav in wavs.items():
        p_empty = plain.empty_probability([wav], [key])[0]
        assert plain.text_log_probability([wav], [""], [key])[0] == pytest.approx(math.log(p_empty), rel=1e-5)
        hyp = one.batch([wav], [key])[0][0]  # eos barred at the first step: its score lacks log(1 - p(""))
        if plain.tokenizer(hyp.text, add_special_tokens=False)["input_ids"] == hyp.token_ids:
            got = plain.text_log_probability([wav], [hyp.text], [key])[0]
            assert got == pytest.approx(hyp.score + math.log(1 - p_empty), rel=1e-4)
            checked += 1
    assert checked  # a hypothesis whose text tokenizes back to its ids


def test_llm_scores_batched_equal_one_by_one(trained_exp, wavs):
    s2t = _s2t(trained_exp)
    keys = sorted(wavs)
    texts = ["A", "HELLO THERE", "E"][: len(keys)]
    batched = s2t.text_log_probability([wavs[k] for k in keys], texts, keys)
    alone = [s2t.text_log_probability([wavs[k]], [t], [k])[0] for k, t in zip(keys, texts)]
    assert batched == pytest.approx(alone, rel=1e-5)
    assert batched[1] < batched[0] < 0  # more words, less probable
    short = np.zeros(10, np.float32)
    assert s2t.text_log_probability([short], ["A"], ["s"]) == [-math.inf]


def _wav(tmp_path, name, n, seed):
    path = tmp_path / f"{name}.wav"
    soundfile.write(path, (np.random.default_rng(seed).standard_normal(n) * 3000).astype(np.int16), 16000)
    return path


def test_whisper_score_is_the_forced_token_log_probs(tiny_whisper_dir, tmp_path):
    import torch

    asr = WhisperASR(str(tiny_whisper_dir))
    waves = [soundfile.read(_wav(tmp_path, f"w{i}", n, i), dtype="float32")[0] for i, n in enumerate((16000, 7000))]
    texts = [" A b.", " Hello there."]
    got = asr.text_log_probability(waves, texts, ["w0", "w1"])
    assert got == pytest.approx([asr.text_log_probability([w], [t], ["x"])[0] for w, t in zip(waves, texts)], rel=1e-5)
    feats = asr.features([waves[1]], sampling_rate=16000, return_tensors="pt").input_features
    ids = [1] + asr.tokenizer(texts[1], add_special_tokens=False).input_ids + [asr.model.generation_config.eos_token_id]
    with torch.no_grad():
        logp = asr.model(input_features=feats, decoder_input_ids=torch.tensor([ids[:-1]])).logits[0].log_softmax(-1)
    assert got[1] == pytest.approx(sum(float(logp[i, t]) for i, t in enumerate(ids[1:])), rel=1e-5)
    with pytest.raises(ValueError, match="utt 'long': 16001 samples, longer than"):
        asr.text_log_probability([np.zeros(16001, np.float32)], ["a"], ["long"])


def test_cli_scores_only_the_differing_non_empty_pairs(trained_exp, tiny_whisper_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text("".join(f"u{i} {_wav(tmp_path, f'u{i}', 12000, i)}\n" for i in range(4)))
    (data / "instruction").write_text("".join(f"u{i} Transcribe the audio.\n" for i in range(4)))
    hyp = tmp_path / "hyp"
    hyp.write_text("u0 A B\nu1 SAME\nu2\nu3 C\n")
    whisper = tmp_path / "whisper"
    whisper.write_text("u0 A C\nu1 SAME\nu2 D\nu3\n")
    out = tmp_path / "o" / "joint_scores"
    args = ["--train_config", str(trained_exp / "config.yaml"), "--model_file", str(trained_exp / "valid.acc.ave.pth"),
            "--whisper_dir", str(tiny_whisper_dir), "--data_dir", str(data), "--hyp", str(hyp),
            "--whisper_hyp", str(whisper), "--out", str(out)]  # fmt: skip
    jhs.main(args)
    rows = {u: [float(v) for v in r.split()] for u, r in read_map(out).items()}
    assert list(rows) == ["u0"]
    wav = soundfile.read(tmp_path / "u0.wav", dtype="float32")[0]
    s2t, asr = _s2t(trained_exp), WhisperASR(str(tiny_whisper_dir))
    fields = [{"instruction": "Transcribe the audio."}] * 2
    want = s2t.text_log_probability([wav, wav], ["A B", "A C"], ["u0", "u0"], fields)
    want += asr.text_log_probability([wav, wav], [whisper_form("A B"), whisper_form("A C")], ["u0", "u0"])
    assert rows["u0"] == pytest.approx(want, abs=1e-3)
    whisper.write_text("u0 A C\n")
    with pytest.raises(SystemExit, match=r"joint_hyp_score: .*hyp: 3 utterances have no Whisper hypothesis, e.g. 'u1'"):
        jhs.main(args)
