"""local/jsonl_to_kaldi.py and local/kaldi_to_jsonl.py: SLAM-LLM's {key, source, target}
lines and chat records <-> Kaldi dirs (with instruction / history files)."""

import json

import pytest

import jsonl_to_kaldi
import kaldi_to_jsonl
from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_slam_llm_lines_become_a_data_dir_and_come_back(tmp_path, sine_wav):
    for u in ("b", "a"):
        sine_wav(tmp_path / f"{u}.wav", 800)
    src = _write(tmp_path / "in.jsonl", [
        {"key": "b", "source": str(tmp_path / "b.wav"), "target": "Good  morning", "speaker": "s2"},
        {"key": "a", "source": str(tmp_path / "a.wav"), "target": "Hello world"},
    ])  # fmt: skip
    out = tmp_path / "data"
    jsonl_to_kaldi.main([str(src), str(out)])
    validate(out)
    assert read_map(out / "text") == {"a": "Hello world", "b": "Good morning"}
    assert read_map(out / "utt2spk") == {"a": "a", "b": "s2"}
    assert read_map(out / "spk2utt") == {"a": "a", "s2": "b"}
    assert not (out / "instruction").exists()
    kaldi_to_jsonl.main([str(out), str(tmp_path / "back.jsonl")])
    back = [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()]
    assert back == [
        {"key": "a", "source": str(tmp_path / "a.wav"), "target": "Hello world", "speaker": "a"},
        {"key": "b", "source": str(tmp_path / "b.wav"), "target": "Good morning", "speaker": "s2"},
    ]


def test_chat_records_give_instruction_and_history(tmp_path, sine_wav):
    sine_wav(tmp_path / "q.wav", 800)
    sine_wav(tmp_path / "r.wav", 800)
    hist = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    src = _write(tmp_path / "chat.jsonl", [
        {"key": "q", "source": str(tmp_path / "q.wav"), "messages": [
            *hist, {"role": "user", "content": "Answer the question."},
            {"role": "assistant", "content": "Paris."}]},
        {"key": "r", "source": str(tmp_path / "r.wav"), "messages": [
            {"role": "user", "content": "Repeat it."}, {"role": "assistant", "content": "ok"}]},
    ])  # fmt: skip
    out = tmp_path / "data"
    jsonl_to_kaldi.main([str(src), str(out)])
    validate(out)
    assert read_map(out / "text") == {"q": "Paris.", "r": "ok"}
    assert read_map(out / "instruction") == {"q": "Answer the question.", "r": "Repeat it."}
    history = read_map(out / "history")
    assert json.loads(history["q"]) == hist and json.loads(history["r"]) == []
    kaldi_to_jsonl.main(["--chat", str(out), str(tmp_path / "back.jsonl")])
    back = [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()]
    assert [r["messages"] for r in back] == [
        [*hist, {"role": "user", "content": "Answer the question."}, {"role": "assistant", "content": "Paris."}],
        [{"role": "user", "content": "Repeat it."}, {"role": "assistant", "content": "ok"}],
    ]


def test_slam_prompt_is_the_instruction_and_must_be_everywhere(tmp_path, sine_wav):
    sine_wav(tmp_path / "a.wav", 800)
    rec = {"key": "a", "source": str(tmp_path / "a.wav"), "target": "x", "prompt": "Transcribe."}
    jsonl_to_kaldi.main([str(_write(tmp_path / "p.jsonl", [rec])), str(tmp_path / "d")])
    assert read_map(tmp_path / "d" / "instruction") == {"a": "Transcribe."}
    two = [rec, {"key": "b", "source": str(tmp_path / "a.wav"), "target": "y"}]
    with pytest.raises(SystemExit, match=r"p2.jsonl:2: key 'b' has no instruction while 1 other"):
        jsonl_to_kaldi.main([str(_write(tmp_path / "p2.jsonl", two)), str(tmp_path / "d2")])


@pytest.mark.parametrize(
    "line, says",
    [
        ("{not json", "bad.jsonl:2: not JSON"),
        ('{"key": "b", "target": "y"}', "bad.jsonl:2: no 'source'"),
        ('{"key": "a", "source": "a.wav", "target": "y"}', "bad.jsonl:2: key 'a' repeats line 1"),
        ('{"key": "b c", "source": "a.wav", "target": "y"}', "key 'b c' holds whitespace"),
        ('{"key": "b", "source": "a.wav", "messages": [{"role": "user", "content": "q"}]}',
         "key 'b': 'messages' must be"),
    ],
)
def test_bad_lines_are_named_by_file_and_line(tmp_path, line, says):
    first = json.dumps({"key": "a", "source": "a.wav", "target": "x"})
    (tmp_path / "bad.jsonl").write_text(first + "\n" + line + "\n")
    with pytest.raises(SystemExit, match=says):
        jsonl_to_kaldi.main([str(tmp_path / "bad.jsonl"), str(tmp_path / "d")])


def test_kaldi_to_jsonl_refuses_commands_and_segments(tmp_path, segmented_dir):
    d, _, _ = segmented_dir
    with pytest.raises(SystemExit, match="has segments .* convert stage 3's dump/raw/seg instead"):
        kaldi_to_jsonl.main([str(d), str(tmp_path / "x.jsonl")])
