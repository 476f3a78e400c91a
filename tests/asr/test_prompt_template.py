import random

import pytest
from transformers import AutoTokenizer

from espnet_speechllm.asr.prompt_template import PromptTemplate


@pytest.fixture(scope="module")
def tok(tiny_tokenizer):
    return AutoTokenizer.from_pretrained(str(tiny_tokenizer))


def test_ids_split_around_audio(tok):
    pt = PromptTemplate(tok, ["TRANSCRIBE"], template="{prompt} THE {audio} AUDIO")
    pre, post = pt.ids("TRANSCRIBE")
    assert pre[0] == tok.bos_token_id
    assert tok.decode(pre[1:]) == "TRANSCRIBE THE "
    assert tok.decode(post) == " AUDIO"


def test_eval_prompt_is_fixed_and_training_samples(tok):
    pt = PromptTemplate(tok, ["A", "B", "C"], eval_prompt="B")
    assert pt.sample(4, train=False) == [pt.ids("B")] * 4
    random.seed(0)
    seen = {tuple(pre) for pre, _ in pt.sample(50, train=True)}
    assert seen == {tuple(pt.ids(p)[0]) for p in "ABC"}


def test_no_bos(tok):
    pt = PromptTemplate(tok, ["X"], add_bos=False, template="{audio}")
    assert pt.ids("X") == ([], [])


def test_chat_template(tok):
    tok = AutoTokenizer.from_pretrained(tok.name_or_path)
    tok.chat_template = "{% for m in messages %}<s>{{ m['content'] }}</s>{% endfor %}A:"
    pt = PromptTemplate(tok, ["HI"], template="{prompt} {audio}", use_chat_template=True)
    pre, post = pt.ids("HI")
    # ChatLayout's split: the space before the audio belongs to the audio's segment.
    assert tok.decode(pre) == "<s>HI"
    assert tok.decode(post) == "</s>A:"


@pytest.mark.parametrize(
    "template,match",
    [("{prompt}", "exactly one"), ("{audio}{audio}", "exactly one"), ("{prompt}{prompt}{audio}", ">1")],
)
def test_bad_template(tok, template, match):
    with pytest.raises(ValueError, match=match):
        PromptTemplate(tok, ["X"], template=template)


def test_chat_template_missing(tok):
    with pytest.raises(ValueError, match="no chat template"):
        PromptTemplate(tok, ["X"], use_chat_template=True)


def test_fill_fields():
    from espnet_speechllm.asr.prompt_template import fill_fields

    assert fill_fields("Translate the {lang} audio.", {"lang": "German"}) == (
        "Translate the German audio."
    )
    assert fill_fields("No fields.", {}) == "No fields."
    with pytest.raises(ValueError, match="utt7: .*needs the field 'lang'"):
        fill_fields("Translate the {lang} audio.", {}, "utt7")


def test_sample_fills_the_language_of_each_utterance(tok):
    pt = PromptTemplate(tok, ["SAY {lang}"], eval_prompt="SAY IT")
    fields = [{"lang": "GERMAN"}, {"lang": "FRENCH"}]
    assert pt.sample(2, train=True, fields=fields) == [
        pt.ids("SAY GERMAN"),
        pt.ids("SAY FRENCH"),
    ]
    assert pt.sample(2, train=False, fields=fields) == [pt.ids("SAY IT")] * 2
    with pytest.raises(ValueError, match="u2: prompt 'SAY {lang}' needs"):
        pt.sample(2, train=True, fields=[{"lang": "X"}, {}], utt_id=["u1", "u2"])
    with pytest.raises(ValueError, match="1 prompt field sets for a batch of 2"):
        pt.sample(2, train=True, fields=[{"lang": "X"}])
