import json

import pytest

from espnet_speechllm.recipe import generate_responses as gr
from espnet_speechllm.recipe.chat_turn import parse_history, render_text_turn
from espnet_speechllm.utils.kaldi_io import read_map

TEXTS = {
    f"utt{i:02d}": t
    for i, t in enumerate(
        ["ONE TWO", "GO STOP", "THREE", "ERASE", "YES NO YES", "SEVEN EIGHT", "NINE", "RUBOUT"]
    )
}


@pytest.fixture()
def text(tmp_path):
    path = tmp_path / "data" / "text"
    path.parent.mkdir()
    path.write_text("".join(f"{u} {t}\n" for u, t in TEXTS.items()))
    return path


def _run(chat_llm, text, out, **kw):
    kw = {"batch_size": 3, "max_new_tokens": 5, **kw}
    return gr.generate_responses(str(chat_llm), text, out, **kw)


def test_render_text_turn_segments(chat_llm):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(chat_llm)
    hist = [{"role": "user", "content": "ONE"}, {"role": "assistant", "content": "TWO"}]
    ids = render_text_turn(tok, "GO", system="SYS", history=hist, instruction="REPEAT")
    want = "<s>system: SYS</s><s>user: ONE</s><s>assistant: TWO</s><s>user: REPEAT\nGO</s><s>assistant:"
    assert ids == tok(want, add_special_tokens=False)["input_ids"]


def test_render_text_turn_without_template_fails(tiny_llm):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llm)
    tok.chat_template = None
    with pytest.raises(ValueError, match="has no chat template"):
        render_text_turn(tok, "GO")


def test_parse_history_errors():
    assert parse_history('[{"role": "user", "content": "hi"}]', "h:1") == [
        {"role": "user", "content": "hi"}
    ]
    with pytest.raises(ValueError, match="h:3: 'history' is not JSON"):
        parse_history("[{", "h:3")
    with pytest.raises(ValueError, match="h:4: history turn 0 must be"):
        parse_history('[{"role": "user"}]', "h:4")


def test_deterministic_sorted_and_capped(chat_llm, text, tmp_path):
    a, b = tmp_path / "a" / "response", tmp_path / "b" / "response"
    assert _run(chat_llm, text, a) == len(TEXTS)
    assert _run(chat_llm, text, b) == len(TEXTS)
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text().splitlines()
    assert [line.split()[0] for line in lines] == sorted(TEXTS)
    assert not (tmp_path / "a" / "response.partial").exists()


def test_length_cap_holds(chat_llm):
    model, tok = gr.load_llm(str(chat_llm))
    prompts = [render_text_turn(tok, t) for t in ("ONE TWO", "GO")]
    for cap in (1, 4):
        out = gr.greedy_generate(model, tok, prompts, cap)
        assert len(out) == 2 and max(len(o) for o in out) <= cap
    # the tiny random LLM rarely emits EOS: with a cap of 4 it fills it
    assert any(len(o) == 4 for o in gr.greedy_generate(model, tok, prompts, 4))


def test_batched_equals_history_and_instruction_change_prompt(chat_llm, text, tmp_path):
    hist = tmp_path / "history"
    turns = [{"role": "user", "content": "ONE"}, {"role": "assistant", "content": "TWO"}]
    hist.write_text("".join(f"{u} {json.dumps(turns)}\n" for u in TEXTS))
    inst = tmp_path / "instruction"
    inst.write_text("".join(f"{u} Repeat exactly what was said\n" for u in TEXTS))
    model, tok = gr.load_llm(str(chat_llm))
    prompts = gr.build_prompts(tok, TEXTS, read_map(hist), read_map(inst), None, hist)
    for utt, text_value in TEXTS.items():
        want = render_text_turn(
            tok, text_value, history=turns, instruction="Repeat exactly what was said"
        )
        assert prompts[utt] == want
    missing = tmp_path / "hist_missing"
    missing.write_text(f"utt00 {json.dumps(turns)}\n")
    with pytest.raises(ValueError, match="hist_missing: no entry for 7 utt"):
        _run(chat_llm, text, tmp_path / "r", history=missing)


def test_resume_after_kill_gives_same_content(chat_llm, text, tmp_path, monkeypatch):
    ref = tmp_path / "ref" / "response"
    _run(chat_llm, text, ref)

    out = tmp_path / "killed" / "response"
    real = gr.greedy_generate
    calls = []

    def dying(*args, **kw):
        if len(calls) == 2:  # killed during the third batch (after 6 utterances)
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(gr, "greedy_generate", dying)
    with pytest.raises(KeyboardInterrupt):
        _run(chat_llm, text, out)
    partial = out.with_name("response.partial")
    assert len(partial.read_text().splitlines()) == 6 and not out.exists()
    with open(partial, "a") as f:
        f.write("utt07 a torn li")  # a kill in the middle of a write
    monkeypatch.setattr(gr, "greedy_generate", real)
    assert _run(chat_llm, text, out) == 2  # only the last batch is generated
    assert out.read_bytes() == ref.read_bytes()
    assert not partial.exists()


def test_rerun_is_a_noop(chat_llm, text, tmp_path, monkeypatch):
    out = tmp_path / "response"
    _run(chat_llm, text, out)
    mtime = out.stat().st_mtime_ns

    def fail(*args, **kw):
        raise AssertionError("the LLM must not be loaded on a finished rerun")

    monkeypatch.setattr(gr, "load_llm", fail)
    assert _run(chat_llm, text, out) == 0
    assert out.stat().st_mtime_ns == mtime


def test_cli(chat_llm, text, tmp_path, capsys):
    out = tmp_path / "response"
    gr.main(["--llm", str(chat_llm), "--text", str(text), "--out", str(out),
             "--batch_size", "4", "--max_new_tokens", "3"])  # fmt: skip
    assert "8 new response(s)" in capsys.readouterr().out
    assert sorted(read_map(out)) == sorted(TEXTS)
    with pytest.raises(SystemExit, match="must be >= 1"):
        gr.main(["--llm", str(chat_llm), "--text", str(text), "--out", str(out),
                 "--batch_size", "0"])  # fmt: skip
