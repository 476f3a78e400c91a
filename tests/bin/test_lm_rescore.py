"""bin/lm_rescore.py: LLM log-probs, score combination, n-best I/O (B2)."""

import pytest
import torch

from espnet_speechllm.bin.lm_rescore import llm_logprob, main, parse_score, read_nbest, rescore


@pytest.fixture(scope="module")
def llm(tiny_llm):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_llm), local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_llm), local_files_only=True)


def _by_hand(model, tok, text: str) -> float:
    """One unpadded sequence: sum_t log p(x_t | x_<t) over text + </s> after <s>."""
    ids = [tok.bos_token_id] + tok(text, add_special_tokens=False).input_ids + [tok.eos_token_id]
    with torch.no_grad():
        logp = model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1)
    return float(sum(logp[t - 1, ids[t]] for t in range(1, len(ids))))


def test_logprob_batched_equals_one_by_one(llm):
    model, tok = llm
    texts = ["ONE TWO", "SEVEN SEVEN EIGHT NINE FIVE", "", "ENTER"]
    got = llm_logprob(model, tok, texts, batch_size=3)  # padding inside a batch
    want = torch.tensor([_by_hand(model, tok, t) for t in texts])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert (got < 0).all()


def test_rescore_math():
    asr = torch.tensor([-1.0, -2.0, -4.0])
    lm = torch.tensor([-9.0, -3.0, -1.0])
    best, total = rescore(asr, lm, 0.0)
    assert best == 0 and total.tolist() == asr.tolist()
    best, total = rescore(asr, lm, 0.5)  # -5.5, -3.5, -4.5
    assert best == 1 and total.tolist() == [-5.5, -3.5, -4.5]
    best, _ = rescore(asr, lm, 10.0)
    assert best == 2


def test_parse_score_reads_espnet_tensor_repr():
    assert parse_score("tensor(-12.5000)", "x") == -12.5
    assert parse_score("-3.25e-1", "x") == -0.325
    with pytest.raises(ValueError, match="utt7: no number"):
        parse_score("nan?", "utt7")


def _nbest_dir(root, hyps):
    """hyps: {utt: [(text, score), ...]} -> root/{k}best_recog/{text,score}."""
    for k in range(max(len(v) for v in hyps.values())):
        d = root / f"{k + 1}best_recog"
        d.mkdir(parents=True)
        with open(d / "text", "w") as ft, open(d / "score", "w") as fs:
            for utt, h in hyps.items():
                if k < len(h):
                    ft.write(f"{utt} {h[k][0]}\n")
                    fs.write(f"{utt} tensor({h[k][1]})\n")
    return root


def test_main_picks_by_combined_score(tmp_path, tiny_llm, llm):
    model, tok = llm
    hyps = {"u1": [("ONE TWO", -1.0), ("ENTER", -1.5)], "u2": [("NINE", -2.0)]}
    # Two decode jobs, as speechllm.sh splits them.
    d1 = _nbest_dir(tmp_path / "output.1", {"u1": hyps["u1"]})
    d2 = _nbest_dir(tmp_path / "output.2", {"u2": hyps["u2"]})
    assert read_nbest([d1, d2]) == hyps
    weight = 0.7
    main(["--llm", str(tiny_llm), "--weight", str(weight), "--nbest_dir", str(d1), str(d2),
          "--output_dir", str(tmp_path / "out")])
    totals = [s + weight * _by_hand(model, tok, t) for t, s in hyps["u1"]]
    best_u1 = hyps["u1"][max(range(2), key=totals.__getitem__)][0]
    assert (tmp_path / "out" / "text").read_text() == f"u1 {best_u1}\nu2 NINE\n"
    score_u1 = float((tmp_path / "out/1best_recog/score").read_text().split()[1])
    assert score_u1 == pytest.approx(max(totals), abs=1e-4)
    assert float((tmp_path / "out/rescore_time").read_text()) >= 0


def test_missing_nbest_dir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="empty"):
        (tmp_path / "empty").mkdir()
        read_nbest([tmp_path / "empty"])
