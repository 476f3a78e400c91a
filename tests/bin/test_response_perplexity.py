import json
import math

import pytest

from espnet_speechllm.bin import response_perplexity as rp
from espnet_speechllm.recipe.chat_turn import render_text_turn
from espnet_speechllm.recipe.generate_responses import load_llm


@pytest.fixture()
def data_dir(tmp_path):
    d = tmp_path / "test"
    d.mkdir()
    (d / "text").write_text("u1 ONE TWO\nu2 GO\n")
    (d / "response").write_text("u1 THREE FOUR\nu2 STOP NOW\n")
    return d


def test_response_nll_equals_hf_loss_on_ids(chat_llm):
    import torch

    model, tok = load_llm(str(chat_llm))
    prompt = render_text_turn(tok, "ONE TWO")
    target = rp.response_ids(tok, "THREE FOUR")
    assert target[-1] == tok.eos_token_id
    ids = torch.tensor([prompt + target])
    labels = torch.tensor([[-100] * len(prompt) + target])
    with torch.no_grad():
        mean = float(model(input_ids=ids, labels=labels).loss)
    nll = rp.response_nll(model, rp.text_prefix_embeds(model, prompt), target)
    assert nll == pytest.approx(mean * len(target), rel=1e-4)


def test_conditions_files_and_figures(chat_llm, data_dir, tmp_path):
    out = tmp_path / "ppl"
    result = rp.perplexity(str(chat_llm), data_dir, out)
    assert set(result) == {"transcript", "nothing"}
    assert json.loads((out / "ppl.json").read_text()) == result
    for cond, r in result.items():
        rows = [line.split() for line in (out / f"{cond}.nll").read_text().splitlines()]
        assert [row[0] for row in rows] == ["u1", "u2"]
        n_tok = sum(int(row[2]) for row in rows)
        assert r["n_tokens"] == n_tok and r["n_utt"] == 2
        assert r["ppl"] == pytest.approx(math.exp(sum(float(row[1]) for row in rows) / n_tok), rel=1e-3)
    # an empty user turn is a different prompt: a different likelihood
    assert result["transcript"]["nll_per_token"] != result["nothing"]["nll_per_token"]


def test_audio_condition_is_a_marked_hook_and_missing_response_fails(chat_llm, data_dir, tmp_path):
    with pytest.raises(NotImplementedError, match="audio_prefix_embeds"):
        rp.perplexity(str(chat_llm), data_dir, tmp_path / "o", ["audio"])
    (data_dir / "response").write_text("u1 X\n")
    with pytest.raises(SystemExit, match="response: no entry for 1 utt"):
        rp.main(["--llm", str(chat_llm), "--data_dir", str(data_dir), "--output_dir", str(tmp_path / "o")])
