"""--empty_threshold: "" only where the LLM's first-step p(eos) reaches it; set on held-out data."""

import math

import numpy as np
import pytest
import soundfile

from espnet_speechllm.bin.speech2text_llm_streaming import Speech2TextLLMStreaming
from espnet_speechllm.bin.speechllm_empty_threshold import main, threshold_for_rate
from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM
from espnet_speechllm.bin.speechllm_inference import main as inference_main


@pytest.fixture(scope="module")
def wavs(an4_dirs):
    rows = (an4_dirs / "test" / "wav.scp").read_text().split("\n")
    return {k: soundfile.read(p, dtype="float32")[0] for k, p in (r.split() for r in rows if r)}


def _s2t(exp, **kw) -> Speech2TextLLM:
    return Speech2TextLLM(exp / "config.yaml", exp / "valid.acc.ave.pth", **kw)


@pytest.fixture(scope="module")
def plain(trained_exp):
    return _s2t(trained_exp)


@pytest.fixture(scope="module")
def p_empty(plain, wavs):
    return dict(zip(wavs, plain.empty_probability(list(wavs.values()), list(wavs))))


def test_empty_probability_per_utterance(plain, wavs, p_empty):
    assert all(0.0 < p < 1.0 for p in p_empty.values())
    empty = [(k, h[0]) for k, h in zip(wavs, plain.batch(list(wavs.values()))) if not h[0].token_ids]
    assert empty  # the tiny model ends at once: greedy's "" scores log p(eos)
    for key, hyp in empty:
        assert hyp.score == pytest.approx(math.log(p_empty[key]), rel=1e-4)
    keys = list(wavs)
    assert [plain.empty_probability([wavs[k]], [k])[0] for k in keys] == pytest.approx(
        [p_empty[k] for k in keys], rel=1e-5
    )  # batched == alone
    short = np.zeros(10, np.float32)  # too short to encode: "" for sure
    assert plain.empty_probability([short, wavs[keys[0]]], ["short", keys[0]]) == pytest.approx(
        [1.0, p_empty[keys[0]]], rel=1e-5
    )


def test_threshold_below_every_p_empties_all_and_above_none(trained_exp, plain, wavs, p_empty):
    low = _s2t(trained_exp, empty_threshold=min(p_empty.values()) * 0.999)
    for key, wav in wavs.items():
        hyp = low(wav)[0]
        assert hyp.text == "" and hyp.score == pytest.approx(math.log(p_empty[key]), rel=1e-4)
    never = _s2t(trained_exp, empty_threshold=1.0)
    one_token = _s2t(trained_exp, min_new_tokens=1)  # HF's own "no eos at the first step"
    for key, wav in wavs.items():
        hyp = never(wav)[0]
        assert hyp.token_ids and hyp.token_ids == one_token(wav)[0].token_ids, key


def test_batch_equals_one_by_one(trained_exp, wavs, p_empty):
    mid = sorted(p_empty.values())[len(p_empty) // 2]
    s2t = _s2t(trained_exp, empty_threshold=mid)
    keys = list(wavs)
    batch = s2t.batch([wavs[k] for k in keys], keys)
    assert batch == [s2t.batch([wavs[k]], [k])[0] for k in keys]
    assert [h[0].text == "" for h in batch] == [p_empty[k] >= mid for k in keys]


def test_bad_empty_threshold_is_refused(trained_exp):
    with pytest.raises(ValueError, match="--empty_threshold 0.0 must be in"):
        _s2t(trained_exp, empty_threshold=0.0)
    with pytest.raises(ValueError, match="--empty_threshold is for offline decoding"):
        Speech2TextLLMStreaming(
            trained_exp / "config.yaml", trained_exp / "valid.acc.ave.pth", empty_threshold=0.5
        )


def test_threshold_for_rate():
    probs = [0.9, 0.1, 0.5, 0.7]
    for rate, t in ((1.0, 0.1), (0.75, 0.5), (0.5, 0.7), (0.01, 0.9)):  # 0.75: 3 of 4 >= 0.5
        got = threshold_for_rate(probs, rate)
        assert got == pytest.approx(t, rel=1e-3) and got < t  # just below: never one fewer ""
        assert sum(p >= got for p in probs) == math.ceil(rate * len(probs))
    tiny = threshold_for_rate([0.9, 3e-6], 1.0)  # far below 1e-4: still below the smallest p
    assert 0 < tiny < 3e-6
    with pytest.raises(ValueError, match="no threshold does that"):
        threshold_for_rate([0.9, 0.0], 1.0)
    with pytest.raises(ValueError, match="--empty_rate 0 must be in"):
        threshold_for_rate(probs, 0)
    with pytest.raises(ValueError, match="no utterances"):
        threshold_for_rate([], 0.5)


def test_main_writes_the_threshold_that_inference_reads(trained_exp, an4_dirs, p_empty, tmp_path):
    scp = an4_dirs / "test" / "wav.scp"
    model = ["--train_config", str(trained_exp / "config.yaml"),
             "--model_file", str(trained_exp / "valid.acc.ave.pth")]  # fmt: skip
    out = tmp_path / "calib"
    main(["--output_dir", str(out), "--data_path_and_name_and_type", f"{scp},speech,sound",
          "--empty_rate", "0.5", "--num_workers", "0", *model])  # fmt: skip
    written = dict(line.split() for line in (out / "p_empty").read_text().splitlines())
    assert written.keys() == p_empty.keys()
    assert all(float(written[k]) == pytest.approx(p, abs=1e-4) for k, p in p_empty.items())
    t = float((out / "empty_threshold").read_text())
    assert t == threshold_for_rate(list(p_empty.values()), 0.5)
    inference_main(["--output_dir", str(tmp_path / "dec"), "--data_path_and_name_and_type",
                    f"{scp},speech,sound", "--empty_threshold", str(t), "--num_workers", "0",
                    "--batch_size", "2", *model])  # fmt: skip
    text = (tmp_path / "dec" / "1best_recog" / "text").read_text().splitlines()
    empty = {line.split(" ", 1)[0] for line in text if not line.partition(" ")[2].strip()}
    assert empty == {k for k, p in p_empty.items() if p >= t}
    assert len(empty) >= math.ceil(0.5 * len(p_empty))


def test_empty_rate_none_writes_p_empty_only(trained_exp, an4_dirs, p_empty, tmp_path):
    out = tmp_path / "p"
    main(["--output_dir", str(out), "--data_path_and_name_and_type", f"{an4_dirs / 'test' / 'wav.scp'},speech,sound",
          "--empty_rate", "none", "--num_workers", "0", "--train_config", str(trained_exp / "config.yaml"),
          "--model_file", str(trained_exp / "valid.acc.ave.pth")])  # fmt: skip
    written = dict(line.split() for line in (out / "p_empty").read_text().splitlines())
    assert {k: float(v) for k, v in written.items()} == pytest.approx(p_empty, abs=1e-4)
    assert not (out / "empty_threshold").exists()


def test_beam_search_follows_the_same_rule(trained_exp, wavs, p_empty):
    keys = list(wavs)
    lo, hi = min(p_empty.values()), max(p_empty.values())
    never = _s2t(trained_exp, beam_size=2, nbest=2, empty_threshold=1.0)
    assert all(h.token_ids for k in keys for h in never(wavs[k]))  # no beam may end at once
    always = _s2t(trained_exp, beam_size=2, empty_threshold=lo * 0.999)
    assert all(always(wavs[k])[0].text == "" for k in keys)
    mid = _s2t(trained_exp, beam_size=2, empty_threshold=hi)  # only the likeliest "" stays ""
    batch = mid.batch([wavs[k] for k in keys], keys)
    assert [h[0].text == "" for h in batch] == [p_empty[k] >= hi for k in keys]
    assert batch == [mid.batch([wavs[k]], [k])[0] for k in keys]
