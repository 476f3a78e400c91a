import json
import math

import pytest

from espnet_speechllm.bin import response_perplexity as rp
from espnet_speechllm.recipe.chat_turn import render_text_turn
from espnet_speechllm.recipe.generate_responses import load_llm
from chat_tiny import chat_data, chat_exp  # noqa: F401 (fixtures)


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


def test_missing_response_fails(chat_llm, data_dir, tmp_path):
    (data_dir / "response").write_text("u1 X\n")
    with pytest.raises(SystemExit, match="response: no entry for 1 utt"):
        rp.main(["--llm", str(chat_llm), "--data_dir", str(data_dir), "--output_dir", str(tmp_path / "o")])


def test_audio_condition_scores_the_responses_after_the_decoding_prefix(chat_exp, chat_data, tmp_path):
    """The audio condition: the trained speech-LLM's decoding prefix (the chat layout with
    the audio and the utterance's history / instruction), its own LLM and end of turn."""
    import torch

    from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM

    test, conf, ckpt = chat_data / "test", chat_exp / "config.yaml", chat_exp / "1epoch.pth"
    result = rp.perplexity("unused", test, tmp_path / "o", ["audio"], train_config=conf, model_file=ckpt)
    rows = [line.split() for line in (tmp_path / "o" / "audio.nll").read_text().splitlines()]
    keys = sorted(line.split()[0] for line in (test / "wav.scp").read_text().splitlines())
    assert [row[0] for row in rows] == keys and result["audio"]["n_utt"] == len(keys)
    # One utterance by hand: the peft LLM over [decoding prefix | response], response + eot.
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed

    set_all_random_seed(0)  # the tiny LLM's frozen weights are random, not in the checkpoint
    s2t = Speech2TextLLM(conf, ckpt)
    utt = keys[0]
    response = dict(line.split(" ", 1) for line in (test / "response").read_text().splitlines())[utt]
    fields = {name: dict(line.split(" ", 1) for line in (test / name).read_text().splitlines())[utt]
              for name in ("history", "instruction")}  # fmt: skip
    from espnet2.fileio.sound_scp import SoundScpReader

    _, wav = SoundScpReader(str(test / "wav.scp"), dtype="float32")[utt]
    speech = torch.from_numpy(wav)[None]
    with torch.no_grad():
        dec = s2t.model.prepare_decoding(speech, torch.tensor([speech.size(1)]), prompts=s2t.prompts([fields], [utt]))
    target = s2t.tokenizer(response, add_special_tokens=False)["input_ids"] + [s2t.eos]
    assert s2t.eos == s2t.model.layout.eot  # the chat turn's end, not the tokenizer's eos
    nll = rp.response_nll(s2t.model.decoder.llm, dec.prefix, target)
    assert float(rows[0][1]) == pytest.approx(nll, rel=1e-3) and int(rows[0][2]) == len(target)
    with pytest.raises(ValueError, match="needs --train_config and --model_file"):
        rp.perplexity("unused", test, tmp_path / "o2", ["audio"])
