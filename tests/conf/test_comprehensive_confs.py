"""conf/comprehensive/*.yaml: every scheme and adapter builds (with tiny stand-ins for
Whisper tiny.en and SmolLM2) and trains exactly the parts its name says."""

import re
from pathlib import Path

import pytest
import torch
import yaml

from espnet2.torch_utils.model_summary import model_summary
from espnet_speechllm.recipe.results import model_params
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from chat_tiny import save_stand_ins

CONF = Path(__file__).resolve().parents[2] / "conf/comprehensive"
SCHEMES = [(e, l) for e in ("frozen", "lora", "full") for l in ("frozen", "lora", "full")]
ADAPTERS = ("conv1d_mlp", "dws_mlp", "conv1d_transformer")
CHAT = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def parts(tmp_path_factory, tiny_llm):
    return save_stand_ins(tmp_path_factory.mktemp("parts"), tiny_llm, CHAT)


_BUILT = {}


def _build(conf: Path, parts: Path, tmp_path: Path):
    """(args, model) of a conf, built once per test session (building dominates the time)."""
    if conf not in _BUILT:
        _BUILT[conf] = _build_uncached(conf, parts, tmp_path)
    return _BUILT[conf]


def _build_uncached(conf: Path, parts: Path, tmp_path: Path):
    args = SpeechLLMTask.get_parser().parse_args(
        ["--config", str(conf), "--output_dir", str(tmp_path / "exp"),
         "--token_list", str(parts / "tokens.txt"), "--bpemodel", str(parts / "llm"),
         "--decoder_conf", f"model_name_or_path={parts / 'llm'}",
         "--encoder_conf", f"model_name_or_path={parts / 'whisper'}"]  # fmt: skip
    )
    torch.manual_seed(0)
    return args, SpeechLLMTask.build_model(args).train()


def _split(model):
    """Trainable and total parameter names per top-level part."""
    out = {}
    for name, p in model.named_parameters():
        part = name.split(".")[0]
        out.setdefault(part, {"trainable": set(), "all": set()})
        out[part]["all"].add(name)
        if p.requires_grad:
            out[part]["trainable"].add(name)
    return out


def _lora_ranks(model, part):
    return {p.shape[0] for n, p in model.named_parameters() if n.startswith(part) and "lora_A" in n}


def _check_mode(model, split, part, mode, rank):
    trainable, every = split[part]["trainable"], split[part]["all"]
    if mode == "frozen":
        assert not trainable, (part, sorted(trainable)[:3])
    elif mode == "lora":
        assert trainable and all("lora_" in n for n in trainable), part
        assert _lora_ranks(model, part) == {rank}, part
    else:
        assert trainable == every, (part, sorted(every - trainable)[:3])


@pytest.mark.parametrize("enc,llm", SCHEMES, ids=[f"enc_{e}_llm_{l}" for e, l in SCHEMES])
def test_scheme_trains_the_parts_its_name_says(enc, llm, parts, tmp_path):
    path = CONF / f"enc_{enc}_llm_{llm}.yaml"
    header = path.read_text().splitlines()[:2]
    assert header[0].startswith(f"# conf/comprehensive/{path.name}: system {path.stem} ")
    assert header[1].startswith("# arXiv 2406.17272") and "row:" in header[1]
    args, model = _build(path, parts, tmp_path)
    assert (args.encoder, args.projector, args.model_conf["encoder_mode"]) == (
        "hf_whisper", "conv1d_mlp", enc)
    assert args.decoder_conf["mode"] == llm and args.init is None
    split = _split(model)
    _check_mode(model, split, "encoder", enc, 8)
    _check_mode(model, split, "decoder", llm, 16)
    assert split["projector"]["trainable"] == split["projector"]["all"]
    if enc == "lora":
        assert args.model_conf["encoder_lora_conf"]["lora_alpha"] == 16
    if llm == "lora":
        assert args.decoder_conf["lora_conf"]["lora_alpha"] == 16

    # What train.log shows: ESPnet's model_summary (AbsTask.main_worker logs it) counts
    # the requires_grad parameters, and results.py reads that line back.
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log = tmp_path / "train.log"
    log.write_text(model_summary(model))
    shown = model_params(log)["trainable"]
    value, unit = re.match(r"([\d.]+) (\S)", shown).groups()
    assert float(value) * {"K": 1e3, "M": 1e6}[unit] == pytest.approx(n_trainable, rel=0.01)


def test_lora_schemes_train_fewer_parameters_than_full_ones(parts, tmp_path):
    counts = {}
    for enc, llm in SCHEMES:
        _, model = _build(CONF / f"enc_{enc}_llm_{llm}.yaml", parts, tmp_path)
        counts[enc, llm] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    for side in ("frozen", "lora", "full"):
        assert counts["frozen", side] < counts["lora", side] < counts["full", side]
        assert counts[side, "frozen"] < counts[side, "lora"] < counts[side, "full"]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapter_variants_at_the_lora_lora_scheme_train_one_step(adapter, parts, tmp_path):
    path = CONF / f"adapter_{adapter}.yaml"
    args, model = _build(path, parts, tmp_path)
    lora_lora = yaml.safe_load((CONF / "enc_lora_llm_lora.yaml").read_text())
    this = yaml.safe_load(path.read_text())
    assert args.projector == adapter and this["projector_conf"]["stride"] == 4
    # Only the projector differs from the LoRA x LoRA scheme.
    assert {k: v for k, v in this.items() if not k.startswith("projector")} == {
        k: v for k, v in lora_lora.items() if not k.startswith("projector")}
    speech, lens = torch.randn(2, 12800) * 0.1, torch.tensor([12800, 9600])
    text, text_lens = torch.tensor([[40, 41, 42], [43, 44, -1]]), torch.tensor([3, 2])
    loss, _, _ = model(speech, lens, text, text_lens)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for n, p in model.named_parameters()
               if p.requires_grad and n.startswith("projector."))
    # 12800 samples -> 40 Whisper frames (20 ms) -> stride 4 -> 10 LLM positions (80 ms).
    assert model.encode(speech[:1], lens[:1])[0].shape[1] == 10
