"""The canonical seed-system confs (conf/<paper>/<system>.yaml): each parses, names its
paper and table row, and builds its model; recipes reach them through relative links."""

import os
import re
from pathlib import Path

import pytest
import yaml

from espnet_speechllm.utils.kaldi_io import read_token_list, write_token_list

ROOT = Path(__file__).resolve().parents[2]
# A conf that is a link to another one (an alias, e.g. comprehensive/adapter_conv1d_mlp) is not a system of its own.
CONFS = sorted(p for p in (ROOT / "conf").glob("*/*.yaml") if not p.is_symlink())
LINKS = sorted(p for p in (ROOT / "egs2").glob("*/*/conf/**/*.yaml") if p.is_symlink())
PAPERS = {"speech_llama": "arXiv 2307.03917", "llm_asr": "arXiv 2307.11795", "comprehensive": "arXiv 2406.17272"}


def test_the_seed_systems_are_all_there():
    names = {f"{p.parent.name}/{p.stem}" for p in CONFS}
    for task in ("asr", "st"):
        for system in ("E0", "E1", "E2", "E3", "E4", "E5", "E6", "DEC", "B1", "ctc_pretrain"):
            assert f"speech_llama/{task}_{system}" in names
    assert {"llm_asr/S80F", "llm_asr/ctc_pretrain"} <= names


@pytest.mark.parametrize("conf", CONFS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_conf_header_names_itself_its_paper_and_row(conf):
    header = conf.read_text(encoding="utf-8").splitlines()[:4]
    assert header[0].startswith(f"# conf/{conf.parent.name}/{conf.name}:"), header[0]
    text = " ".join(header)
    assert PAPERS.get(conf.parent.name, "?") in text, text
    system = conf.stem.split("_", 1)[-1] if conf.parent.name == "speech_llama" else conf.stem
    assert system == "ctc_pretrain" or re.search(rf"\b{system}\b", text), text
    assert isinstance(yaml.safe_load(conf.read_text(encoding="utf-8")), dict)


@pytest.mark.parametrize("link", LINKS, ids=lambda p: str(p.relative_to(ROOT / "egs2")))
def test_recipe_links_are_relative_and_resolve(link):
    target = os.readlink(link)
    assert not os.path.isabs(target), target
    assert link.resolve().is_file(), f"{link} -> {target} does not resolve"


def test_every_canonical_conf_is_linked_and_not_copied():
    linked = {p.resolve() for p in LINKS}
    assert set(CONFS) <= linked, sorted(set(CONFS) - linked)
    files = [p for p in (ROOT / "egs2").glob("*/*/conf/**/*.yaml") if not p.is_symlink()]
    canonical = {c.read_bytes() for c in CONFS}
    copies = [p for p in files if p.read_bytes() in canonical]
    assert not copies, copies


# The st_* confs also train a step in tests/egs2/test_st_tuning_confs.py; the comprehensive
# ones (Whisper encoder) build with tiny stand-ins in test_comprehensive_confs.py.
BUILD = [c for c in CONFS if not c.name.startswith("st_") and c.parent.name != "comprehensive"]


@pytest.mark.parametrize("conf", BUILD, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_conf_builds_its_model_with_the_tiny_llm(conf, tmp_path, tiny_tokenizer, tiny_llm):
    cfg = yaml.safe_load(conf.read_text(encoding="utf-8"))
    if cfg.get("model") == "speechllm":
        from espnet_speechllm.tasks.speechllm import SpeechLLMTask as Task

        tokens = tiny_tokenizer / "tokens.txt"
        extra = ["--bpemodel", str(tiny_llm), "--decoder_conf", f"model_name_or_path={tiny_llm}"]
    else:  # ESPnet's own ASR model: B1 or the CTC pre-training
        from espnet2.tasks.asr import ASRTask as Task

        llm_tokens = read_token_list(tiny_tokenizer / "tokens.txt")
        tokens = tmp_path / "tokens.txt"
        write_token_list(tokens, ["<blank>", *llm_tokens, "<sos/eos>"])
        extra = ["--token_type", "hugging_face", "--bpemodel", str(tiny_tokenizer)]
    args = Task.get_parser().parse_args(
        ["--config", str(conf), "--token_list", str(tokens), "--output_dir", str(tmp_path / "exp")]
        + extra
    )
    model = Task.build_model(args)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) > 0
