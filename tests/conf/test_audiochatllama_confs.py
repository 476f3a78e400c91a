"""conf/audiochatllama/*.yaml and conf/comprehensive/matching_loss.yaml build with tiny
stand-ins for Whisper tiny.en and SmolLM2 and train one step with their loss terms."""

from pathlib import Path

import pytest
import torch
import yaml

from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from chat_tiny import CHATML, save_stand_ins

ROOT = Path(__file__).resolve().parents[2] / "conf"
SYSTEMS = sorted(p.stem for p in (ROOT / "audiochatllama").glob("*.yaml"))


@pytest.fixture(scope="module")
def parts(tmp_path_factory, tiny_llm):
    """Tiny Whisper + the tiny LLM whose tokenizer has ChatML's template (as SmolLM2's);
    its <|im_*|> markers are plain text here: eot is eos."""
    return save_stand_ins(tmp_path_factory.mktemp("parts"), tiny_llm, CHATML)


def _build(conf: Path, parts: Path, tmp_path: Path):
    cmd = ["--config", str(conf), "--output_dir", str(tmp_path / "exp"),
           "--token_list", str(parts / "tokens.txt"), "--bpemodel", str(parts / "llm"),
           "--decoder_conf", f"model_name_or_path={parts / 'llm'}"]  # fmt: skip
    if yaml.safe_load(conf.read_text())["encoder"] == "hf_whisper":
        cmd += ["--encoder_conf", f"model_name_or_path={parts / 'whisper'}"]
    args = SpeechLLMTask.get_parser().parse_args(cmd)
    torch.manual_seed(0)
    return args, SpeechLLMTask.build_model(args).train()


def _step(model, **kwargs):
    speech, lens = torch.randn(2, 12800) * 0.1, torch.tensor([12800, 9600])
    text, text_lens = torch.tensor([[40, 41, 42], [43, 44, -1]]), torch.tensor([3, 2])
    src, src_lens = torch.tensor([[50, 51], [52, -1]]), torch.tensor([2, 1])
    loss, stats, _ = model(
        speech, lens, text, text_lens, src_text=src, src_text_lengths=src_lens, **kwargs
    )
    loss.backward()
    return loss, stats


def test_the_canonical_systems_are_there():
    assert {"e2e_ce", "e2e_ce_kl", "e2e_ce_enc_frozen", "e2e_ce_kl_enc_frozen",
            "e2e_ce_kl_conformer"} <= set(SYSTEMS)  # fmt: skip


@pytest.mark.parametrize("system", SYSTEMS)
def test_system_builds_and_trains_one_step(system, parts, tmp_path):
    path = ROOT / "audiochatllama" / f"{system}.yaml"
    assert path.read_text().startswith(f"# conf/audiochatllama/{system}.yaml: AudioChatLlama (arXiv 2311.06753)")
    args, model = _build(path, parts, tmp_path)
    assert args.decoder_conf["mode"] == "frozen" and model.layout is not None
    assert args.encoder == ("conformer" if "conformer" in system else "hf_whisper")
    distill = "_kl" in system
    assert (model.aux.distill_weight > 0) == distill
    if "enc_frozen" in system:
        assert not any(p.requires_grad for p in model.encoder.parameters())
    loss, stats = _step(model)
    assert torch.isfinite(loss) and ("loss_kl" in stats) == distill
    assert ("loss_ctc" in stats) == ("conformer" in system)
    assert all(p.grad is None for p in model.decoder.parameters())  # the LLM stays frozen
    assert all(p.grad is not None for p in model.projector.parameters())


def test_matching_loss_conf_is_the_lora_scheme_plus_the_matching_term(parts, tmp_path):
    path = ROOT / "comprehensive" / "matching_loss.yaml"
    assert path.read_text().startswith("# conf/comprehensive/matching_loss.yaml: arXiv 2406.17272")
    this = yaml.safe_load(path.read_text())
    base = yaml.safe_load((ROOT / "comprehensive" / "enc_lora_llm_lora.yaml").read_text())
    for key in ("matching_loss_weight", "matching_conf"):
        this["model_conf"].pop(key)
    assert this == base
    _, model = _build(path, parts, tmp_path)
    loss, stats = _step(model)
    assert torch.isfinite(loss) and stats["loss_match"] > 0
    assert all(p.grad is not None for p in model.aux.matching.parameters())


def test_the_chat_recipe_links_every_system():
    tuning = ROOT.parent / "egs2/espeak_chat/speechllm1/conf/tuning"
    for system in SYSTEMS:
        link = tuning / f"{system}.yaml"
        assert link.is_symlink() and link.resolve() == (ROOT / "audiochatllama" / link.name)
