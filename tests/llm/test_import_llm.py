import json
import shutil

import pytest

from espnet_speechllm.llm.import_llm import main
from espnet_speechllm.llm.llm_dir import MARKER


def _import(src, out, *extra):
    main(["--model_name_or_path", str(src), "--out_dir", str(out), *extra])


def test_local_dir_is_symlinked_loads_and_reruns(tiny_llm, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "exp" / "llm"
    for _ in range(2):
        _import(tiny_llm, out)
        assert out.is_symlink() and out.resolve() == tiny_llm.resolve()
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.num_hidden_layers == 2


def test_copy_makes_a_marked_dir_that_a_symlink_may_replace(tiny_llm, tmp_path):
    out = tmp_path / "llm"
    for _ in range(2):
        _import(tiny_llm, out, "--copy", "true")
        assert not out.is_symlink()
        assert (out / MARKER).read_text().strip() == str(tiny_llm.resolve())
        assert (out / "model.safetensors").is_file()
        assert (out / "tokenizer.json").is_file()
    _import(tiny_llm, out)
    assert out.is_symlink()
    assert (tiny_llm / "model.safetensors").is_file()  # the source is untouched


def test_foreign_out_dir_is_never_removed(tiny_llm, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match=str(out)):
        _import(tiny_llm, out)
    assert (out / "notes.txt").read_text() == "keep"


def test_missing_local_path_is_named(tmp_path):
    missing = tmp_path / "no" / "such_model"
    with pytest.raises(FileNotFoundError, match=f"{missing}: no such directory"):
        _import(missing, tmp_path / "llm")


def test_hub_id_is_refused_offline_with_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        _import("espnet-speechllm-test/no-such-llm", tmp_path / "llm")
    msg = str(e.value)
    assert "espnet-speechllm-test/no-such-llm" in msg and "offline" in msg.lower()
    assert "--model_name_or_path /path/to/model_dir" in msg
    assert "--allow_download true" in msg
    assert not (tmp_path / "llm").exists()


def test_rejects_dirs_that_are_not_causal_lms(tiny_llm, tmp_path):
    w2v = tmp_path / "wav2vec2"
    w2v.mkdir()
    (w2v / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}))
    with pytest.raises(ValueError, match="'wav2vec2' is not a causal LM"):
        _import(w2v, tmp_path / "llm")

    no_weights = tmp_path / "no_weights"
    skip = shutil.ignore_patterns("*.safetensors")
    shutil.copytree(tiny_llm, no_weights, ignore=skip)
    with pytest.raises(FileNotFoundError, match="no weights"):
        _import(no_weights, tmp_path / "llm")


def test_an_llm_dir_is_never_re_pointed_at_another_llm(tiny_llm, tmp_path):
    """exp/llm_<name> of one LLM stays that LLM: importing another one into it is refused
    with both names, and the experiments that name the dir still find their LLM."""
    other = tmp_path / "other_llm"
    shutil.copytree(tiny_llm, other)
    out = tmp_path / "exp" / "llm_tiny"
    _import(tiny_llm, out)
    with pytest.raises(FileExistsError) as e:
        _import(other, out)
    msg = str(e.value)
    assert f"{out} already holds the LLM {tiny_llm.resolve()}, not {other.resolve()}" in msg
    assert "never re-pointed" in msg and "--llm_dir" in msg
    assert out.resolve() == tiny_llm.resolve()
    with pytest.raises(FileExistsError, match="never re-pointed"):
        _import(other, out, "--copy", "true")
    assert out.resolve() == tiny_llm.resolve()
