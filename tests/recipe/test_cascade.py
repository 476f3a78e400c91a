import pytest

from espnet_speechllm.recipe import cascade as cs
from espnet_speechllm.recipe.generate_responses import generate_responses
from espnet_speechllm.utils.kaldi_io import read_map

TEXTS = {"u1": "ONE TWO", "u2": "GO STOP", "u3": "YES NO YES", "u4": "RUBOUT"}


@pytest.fixture()
def test_dir(tmp_path, chat_llm):
    """A test set dir with instructions and the oracle responses of stage 8."""
    d = tmp_path / "dump" / "test_tasks"
    d.mkdir(parents=True)
    (d / "text").write_text("".join(f"{u} {t}\n" for u, t in TEXTS.items()))
    inst = {"u1": "Repeat exactly what was said", "u2": "Repeat exactly what was said",
            "u3": "Summarise what was said", "u4": "Summarise what was said"}  # fmt: skip
    (d / "instruction").write_text("".join(f"{u} {v}\n" for u, v in inst.items()))
    generate_responses(str(chat_llm), d / "text", d / "response",
                       instruction=d / "instruction", max_new_tokens=4)  # fmt: skip
    return d


def test_reference_transcripts_give_the_oracle(chat_llm, test_dir, tmp_path):
    out = tmp_path / "oracle" / "test_tasks"
    result = cs.cascade(str(chat_llm), test_dir / "text", test_dir, out, max_new_tokens=4)
    assert (out / "text").read_text() == (test_dir / "response").read_text()
    assert result["groups"]["all"]["bleu"] == 100.0 and result["groups"]["all"]["exact"] == 100.0
    assert "wer" in result["groups"]["Repeat exactly what was said"]


def test_asr_errors_change_the_responses(chat_llm, test_dir, tmp_path):
    asr = tmp_path / "asr_text"
    asr.write_text("u1 ONE TOO\nu2 GO\nu3 YES NO YES\n")  # u4 missing: an empty transcript
    out = tmp_path / "cascade" / "test_tasks"
    result = cs.cascade(str(chat_llm), asr, test_dir, out, max_new_tokens=4)
    assert read_map(out / "asr_text") == {"u1": "ONE TOO", "u2": "GO", "u3": "YES NO YES", "u4": ""}
    hyp, ref = read_map(out / "text"), read_map(test_dir / "response")
    assert hyp["u3"] == ref["u3"]  # the same transcript gives the same response
    assert result["groups"]["all"]["exact"] == 100.0 * sum(hyp[u] == ref[u] for u in ref) / 4


def test_missing_oracle_responses_says_which_stage(tmp_path, chat_llm):
    (tmp_path / "text").write_text("u1 A\n")
    with pytest.raises(ValueError, match="stage 8 with --make_responses true"):
        cs.cascade(str(chat_llm), tmp_path / "text", tmp_path, tmp_path / "o")
