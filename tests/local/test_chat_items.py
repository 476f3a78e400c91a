"""Tests of local/chat_items.py (the espeak_chat test-set texts)."""

import json
import random

import chat_items as prep
from espeak_synth import read_items

from espnet_speechllm.utils.kaldi_io import read_map

NUMBER = {w: i for i, w in enumerate(prep.NUMBERS)}


def test_deterministic_sets_and_files(tmp_path):
    for name in ("a", "b"):
        prep.main(["--out_dir", str(tmp_path / name), "--seed", "3", "--num_qa", "40",
                   "--num_inst", "10", "--num_multiturn", "9", "--num_tasks", "4"])  # fmt: skip
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["test_inst.tsv", "test_multiturn.answer", "test_multiturn.history",
                     "test_multiturn.tsv", "test_qa.answer", "test_qa.tsv",
                     "test_tasks.instruction", "test_tasks.tsv"]  # fmt: skip
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    out = tmp_path / "a"
    sizes = {s: len(read_items(out / f"{s}.tsv")) for s in ("test_qa", "test_inst", "test_multiturn", "test_tasks")}
    assert sizes == {"test_qa": 40, "test_inst": 10, "test_multiturn": 9, "test_tasks": 12}
    qa = {it.utt_id: it for it in read_items(out / "test_qa.tsv")}
    assert sorted(read_map(out / "test_qa.answer")) == sorted(qa)
    for it in qa.values():
        assert it.text == it.text.upper() and it.utt_id.startswith(it.speaker + "-")
    assert set(read_map(out / "test_tasks.instruction").values()) == set(prep.TASKS)
    for value in read_map(out / "test_multiturn.history").values():
        assert [t["role"] for t in json.loads(value)] == ["user", "assistant"]


def test_answers_are_right():
    for question, answer in prep.qa_items(random.Random(0), 177):
        words = question.split()
        if "plus" in words or "minus" in words:
            a, op, b = NUMBER[words[2]], words[3], NUMBER[words[4]]
            want = a + b if op == "plus" else a - b
            assert answer == f"{prep.NUMBERS[want]}|{want}", question
        elif "capital" in words:
            assert answer == prep.CAPITALS[words[-1]]
    for question, hist, answer in prep.multiturn_items(random.Random(0), 30):
        first = hist[0]["content"].lower()
        if question == "what is my name":
            assert answer in first
        elif question.startswith("if i eat"):
            have, eat = NUMBER[first.split()[2]], NUMBER[question.split()[3]]
            assert answer.split("|") == [prep.NUMBERS[have - eat], str(have - eat)]
        else:
            country = first.rstrip(".").split()[-1]
            assert answer == prep.CAPITALS[country]
