"""export_hf: a transformers-loadable dir whose generate() equals Speech2TextLLM."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

import espnet_speechllm.export  # noqa: F401  (registers the Auto classes)
from espnet_speechllm.bin.export_hf import main
from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM
from espnet_speechllm.export.hf_export import ExportError, export_hf
from espnet_speechllm.export.hf_modeling import SpeechLLMForConditionalGeneration
from espnet_speechllm.export.hf_processing import SpeechLLMProcessor
from tiny import TINY_LLAMA, built_exp, tiny_train_config
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSpeechSeq2Seq, AutoProcessor

CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant:{% endif %}"
)


@pytest.fixture(scope="module")
def wavs(an4_dirs):
    """Four mini_an4 utterances of different lengths (0.7 s to 2.9 s)."""
    out = {}
    for split in ("test", "train"):
        for line in (an4_dirs / split / "wav.scp").read_text().splitlines()[:2]:
            key, path = line.split(maxsplit=1)
            out[key] = soundfile.read(path, dtype="float32")[0]
    assert len(out) == 4 and len({len(w) for w in out.values()}) == 4
    return out


@pytest.fixture(scope="module")
def wide_llm(tmp_path_factory, tiny_tokenizer) -> Path:
    """A random Llama with peaked predictions (init 0.5) and a chat template."""
    from transformers import AutoConfig, AutoTokenizer

    torch.manual_seed(0)
    cfg = dict(TINY_LLAMA, initializer_range=0.5)
    out = tmp_path_factory.mktemp("wide_llm")
    AutoModelForCausalLM.from_config(
        AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    ).save_pretrained(out)
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer)
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(out)
    return out



@pytest.fixture(scope="module")
def full_export(trained_exp, tmp_path_factory) -> Path:
    """The trained tiny model (decoder_conf.mode full) exported through the CLI."""
    out = tmp_path_factory.mktemp("full") / "hf"
    main(
        ["--train_config", str(trained_exp / "config.yaml")]
        + ["--model_file", str(trained_exp / "valid.acc.ave.pth"), "--out_dir", str(out)]
    )
    return out


@pytest.fixture(scope="module")
def lora_exp(tmp_path_factory, tiny_tokenizer, wide_llm) -> Path:
    conf = tiny_train_config(
        tiny_tokenizer,
        mode="lora",
        config=None,
        model_name_or_path=str(wide_llm),
        lora_conf=dict(r=4, lora_alpha=8, init_lora_weights=False),
    )
    return built_exp(tmp_path_factory.mktemp("lora") / "exp", conf)


@pytest.fixture(scope="module")
def lora_exports(lora_exp) -> dict:
    """{merge_lora: export dir} of the same LoRA model."""
    config, model_file = lora_exp / "config.yaml", lora_exp / "model.pth"
    return {m: export_hf(config, model_file, lora_exp.parent / f"hf_{m}", m) for m in (True, False)}


def _load(path: Path):
    return AutoModel.from_pretrained(path), AutoProcessor.from_pretrained(path)


def _hf_decode(path: Path, wavs: dict, text=None, **kwargs):
    """(texts, ids, scores) of generate() on the processor's padded batch of ``wavs``."""
    model, processor = _load(path)
    inputs = processor(list(wavs.values()), sampling_rate=16000, text=text)
    assert inputs["input_values"].shape == (len(wavs), max(len(w) for w in wavs.values()))
    out = model.generate(**inputs, return_dict_in_generate=True, **kwargs)
    pad = model.config.pad_token_id
    ids = [[i for i in row if i != pad] for row in out.sequences.tolist()]
    return processor.batch_decode(out.sequences), ids, out.sequences_scores.tolist()


def _s2t_decode(config, model_file, wavs: dict, **kwargs):
    s2t = Speech2TextLLM(config, model_file, **kwargs)
    hyps = [h for nbest in s2t.batch(list(wavs.values()), list(wavs)) for h in nbest]
    return [h.text for h in hyps], [h.token_ids for h in hyps], [h.score for h in hyps]


def _assert_same(hf, s2t):
    assert hf[0] == s2t[0]
    assert hf[1] == s2t[1]
    assert all(ids for ids in hf[1]), "an empty hypothesis: the comparison would prove little"
    assert hf[2] == pytest.approx(s2t[2], abs=1e-4)


@pytest.mark.parametrize(
    "s2t_kwargs, hf_kwargs",
    [
        # The 2-epoch model ends at once: two forced tokens make the ids worth comparing.
        (dict(min_new_tokens=2), dict(min_new_tokens=2)),
        (
            dict(beam_size=3, nbest=2, min_new_tokens=2),
            dict(num_beams=3, num_return_sequences=2, min_new_tokens=2),
        ),
    ],
    ids=["greedy", "beam"],
)
def test_automodel_generate_equals_speech2textllm(
    full_export, trained_exp, wavs, s2t_kwargs, hf_kwargs
):
    model, processor = _load(full_export)
    assert type(model) is SpeechLLMForConditionalGeneration and not model.training
    assert type(processor) is SpeechLLMProcessor
    assert (
        type(AutoModelForSpeechSeq2Seq.from_pretrained(full_export))
        is SpeechLLMForConditionalGeneration
    )
    expected = _s2t_decode(
        trained_exp / "config.yaml", trained_exp / "valid.acc.ave.pth", wavs, **s2t_kwargs
    )
    _assert_same(_hf_decode(full_export, wavs, **hf_kwargs), expected)


def test_full_llm_export_stores_the_llm_once_in_llm_dir(full_export, trained_exp):
    conf = yaml.safe_load((full_export / "espnet/config.yaml").read_text())
    assert conf["decoder_conf"]["mode"] == "frozen"
    assert conf["decoder_conf"]["model_name_or_path"] == "llm" == conf["bpemodel"]
    assert "config" not in conf["decoder_conf"]
    from safetensors.torch import load_file

    keys = load_file(str(full_export / "model.safetensors")).keys()
    assert not [k for k in keys if k.startswith("decoder.")]
    trained = torch.load(trained_exp / "valid.acc.ave.pth", weights_only=True)
    assert set(keys) == {k for k in trained if not k.startswith("decoder.")}
    # The trained LLM, not a fresh random one: its weights equal the checkpoint's.
    llm = AutoModelForCausalLM.from_pretrained(full_export / "llm")
    emb = trained["decoder.llm.model.embed_tokens.weight"]
    assert torch.equal(llm.get_input_embeddings().weight, emb)


def test_processor_prompt_is_the_eval_prompt_and_text_overrides_it(full_export, trained_exp, wavs):
    s2t = Speech2TextLLM(trained_exp / "config.yaml", trained_exp / "valid.acc.ave.pth")
    processor = AutoProcessor.from_pretrained(full_export)
    wav = list(wavs.values())[:2]
    inputs = processor(wav, sampling_rate=16000)
    pre, post = s2t.model.prompt.ids("Transcribe:")
    assert inputs["prompt_ids"].tolist() == [pre + post] * 2
    assert inputs["audio_position"].tolist() == [len(pre)] * 2
    other = processor(wav[0], sampling_rate=16000, text="Write it down:")
    pre, post = s2t.model.prompt.ids("Write it down:")
    assert other["prompt_ids"].tolist() == [pre + post] and len(pre + post) > 2
    expected = _s2t_decode(
        trained_exp / "config.yaml",
        trained_exp / "valid.acc.ave.pth",
        wavs,
        prompt="Write it down:",
        min_new_tokens=2,
    )
    _assert_same(_hf_decode(full_export, wavs, text="Write it down:", min_new_tokens=2), expected)


def test_lora_merged_export_equals_unmerged_and_speech2textllm(lora_exports, lora_exp, wavs):
    merged, kept = lora_exports[True], lora_exports[False]
    confs = {
        m: yaml.safe_load((d / "espnet/config.yaml").read_text()) for m, d in lora_exports.items()
    }
    assert confs[True]["decoder_conf"]["mode"] == "frozen"
    assert confs[False]["decoder_conf"]["mode"] == "lora"
    assert confs[False]["decoder_conf"]["model_name_or_path"] != "llm"  # the packed base
    assert (kept / confs[False]["decoder_conf"]["model_name_or_path"] / "config.json").is_file()
    assert json.loads((merged / "config.json").read_text())["lora_merged"] is True
    assert json.loads((kept / "config.json").read_text())["lora_merged"] is False
    expected = _s2t_decode(lora_exp / "config.yaml", lora_exp / "model.pth", wavs)
    for path in (merged, kept):
        _assert_same(_hf_decode(path, wavs), expected)


def _logits(llm, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return llm(input_ids=ids).logits


@pytest.mark.parametrize("merge", [True, False])
def test_llm_dir_loads_alone_with_the_logits_of_the_lora_llm(lora_exports, wide_llm, merge):
    ids = torch.tensor([[1, 40, 41, 42, 43, 44]])
    alone = AutoModelForCausalLM.from_pretrained(lora_exports[merge] / "llm")
    assert "Lora" not in str(alone) and type(alone).__name__ == "LlamaForCausalLM"
    decoder = AutoModel.from_pretrained(lora_exports[merge]).speechllm.decoder
    assert decoder.mode == ("frozen" if merge else "lora")
    inside = _logits(decoder.llm, ids)
    assert torch.allclose(_logits(alone, ids), inside, atol=1e-4)  # merged: other rounding
    base = _logits(AutoModelForCausalLM.from_pretrained(wide_llm), ids)
    assert not torch.allclose(base, inside, atol=1e-2)  # the adapters matter


def test_chat_layout_export_renders_the_instruction_turn(tmp_path, tiny_tokenizer, wide_llm, wavs):
    """A chat-layout model with global_mvn: the export carries the stats file too."""
    rng = np.random.default_rng(0)
    mean, var, count = rng.normal(size=80), rng.uniform(0.5, 2.0, size=80), 1000.0
    stats = tmp_path / "stats" / "feats_stats.npz"
    stats.parent.mkdir()
    np.savez(stats, count=count, sum=count * mean, sum_square=count * (var + mean**2))
    conf = tiny_train_config(
        tiny_tokenizer, mode="frozen", config=None, model_name_or_path=str(wide_llm)
    )
    conf.update(
        bpemodel=str(wide_llm), normalize="global_mvn", normalize_conf=dict(stats_file=str(stats))
    )
    conf["model_conf"] = dict(chat_layout=True, instruction="Repeat:", ctc_weight=0.3)
    exp = built_exp(tmp_path / "exp", conf)
    out = export_hf(exp / "config.yaml", exp / "model.pth", tmp_path / "hf")
    s2t = Speech2TextLLM(exp / "config.yaml", exp / "model.pth")
    expected = {
        None: _s2t_decode(exp / "config.yaml", exp / "model.pth", wavs),
        "Spell it:": _s2t_decode(
            exp / "config.yaml", exp / "model.pth", wavs, instruction="Spell it:"
        ),
    }
    stats.unlink()  # the export holds its own copy
    assert yaml.safe_load((out / "espnet/config.yaml").read_text())["normalize_conf"] == dict(
        stats_file="exp/stats/feats_stats.npz"
    )
    processor = AutoProcessor.from_pretrained(out)
    got = processor(list(wavs.values())[:1], sampling_rate=16000, text="Spell it:")
    [(pre, post)] = s2t.model.layout.batch_audio_ids(1, [{"instruction": "Spell it:"}])
    assert got["prompt_ids"].tolist() == [pre + post]
    assert processor.tokenizer.decode(pre).startswith("<s>user: Spell it:")
    for text, hyps in expected.items():
        _assert_same(_hf_decode(out, wavs, text=text), hyps)


def test_short_audio_gives_an_empty_row_as_speech2textllm(full_export, wavs):
    model, processor = _load(full_export)
    long = list(wavs.values())[0]
    short = np.zeros(model.min_input_samples - 1, dtype=np.float32)
    assert model.min_input_samples == 960
    seqs = model.generate(**processor([long, short], sampling_rate=16000), min_new_tokens=2)
    alone = model.generate(**processor(long, sampling_rate=16000), min_new_tokens=2)
    assert seqs[1].tolist() == [model.config.pad_token_id] * seqs.size(1)
    assert seqs[0, : alone.size(1)].tolist() == alone[0].tolist()


def test_no_remote_code_in_the_export(full_export, lora_exports):
    for out in (full_export, *lora_exports.values()):
        assert not list(out.rglob("*.py"))
        for path in out.rglob("*.json"):
            assert "auto_map" not in json.loads(path.read_text()), path
    src = Path(espnet_speechllm.export.__file__).parent
    for path in [*src.glob("*.py"), src.parents[0] / "bin" / "export_hf.py"]:
        assert "trust_remote_code=True" not in path.read_text(), path


def test_model_card_holds_results_and_load_commands(trained_exp, tmp_path):
    exp = tmp_path / "exp" / "speechllm_tiny"
    shutil.copytree(trained_exp, exp, ignore=shutil.ignore_patterns("*.pth"))
    shutil.copy(trained_exp / "valid.acc.ave.pth", exp / "valid.acc.ave.pth")
    (exp / "RESULTS.md").write_text("# RESULTS\n|dataset|Snt|Wrd|Corr|\n")
    out = export_hf(exp / "config.yaml", exp / "valid.acc.ave.pth", exp / "hf")
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\n") and "# speechllm_tiny" in card
    assert "|dataset|Snt|Wrd|Corr|" in card
    for line in (
        "import espnet_speechllm.export",
        f'model = AutoModel.from_pretrained("{out}")',
        f'processor = AutoProcessor.from_pretrained("{out}")',
        f'llm = AutoModelForCausalLM.from_pretrained("{out}/llm")',
    ):
        assert line in card


def test_bad_inputs_fail_clearly_and_keep_what_is_there(full_export, trained_exp, tmp_path):
    processor = AutoProcessor.from_pretrained(full_export)
    with pytest.raises(ValueError, match="sampling_rate=8000: the model reads 16000 Hz"):
        processor(np.zeros(16000, dtype=np.float32), sampling_rate=8000)
    with pytest.raises(ValueError, match="audio 1: a mono waveform"):
        processor([np.zeros(16000), np.zeros((2, 16000))], sampling_rate=16000)
    with pytest.raises(ValueError, match="from_pretrained"):
        SpeechLLMForConditionalGeneration(AutoModel.from_pretrained(full_export).config)
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="exists and holds no earlier export"):
        main(
            ["--train_config", str(trained_exp / "config.yaml")]
            + ["--model_file", str(trained_exp / "valid.acc.ave.pth"), "--out_dir", str(other)]
        )
    assert (other / "notes.txt").read_text() == "keep me" and len(list(other.iterdir())) == 1
    assert not list(tmp_path.glob(".*"))  # no staging left behind
    with pytest.raises(ExportError, match="--readme nope.md: no such file"):
        export_hf(
            trained_exp / "config.yaml",
            trained_exp / "valid.acc.ave.pth",
            tmp_path / "x",
            readme="nope.md",
        )
