import pytest
import torch
import yaml

from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet_speechllm.asr.encoder_mode import set_encoder_mode
from espnet_speechllm.asr.encoder.hf_whisper_encoder import HFWhisperEncoder
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from tiny import TINY_WHISPER, tiny_train_config


def _conformer() -> ConformerEncoder:
    torch.manual_seed(0)
    return ConformerEncoder(20, output_size=16, attention_heads=2, linear_units=32, num_blocks=2)


def _step(enc, xs, ilens):
    opt = torch.optim.SGD([p for p in enc.parameters() if p.requires_grad], lr=0.1)
    enc(xs, ilens)[0].pow(2).mean().backward()
    opt.step()


def test_conformer_lora_trains_only_adapters_and_keeps_plain_keys():
    plain = _conformer()
    enc = _conformer()
    set_encoder_mode(enc, "lora", dict(r=2))
    trained = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in n for n in trained)
    assert {n.split(".")[-4] for n in trained} == {"linear_q", "linear_k", "linear_v", "linear_out"}
    before = {k: v.clone() for k, v in enc.named_parameters()}
    torch.manual_seed(1)
    xs, ilens = torch.randn(2, 30, 20), torch.tensor([30, 21])
    for _ in range(2):  # lora_B starts at 0, so lora_A moves only from step 2
        _step(enc, xs, ilens)
    after = dict(enc.named_parameters())
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed and all("lora_" in k for k in changed)
    # Saved as the plain encoder names it: a plain checkpoint fits, and back.
    sd = enc.state_dict()
    assert not any(".base_layer." in k for k in sd)
    assert set(plain.state_dict()) == {k for k in sd if "lora_" not in k}
    fresh = _conformer()
    set_encoder_mode(fresh, "lora", dict(r=2))
    with torch.no_grad():
        fresh.encoders[0].self_attn.linear_q.base_layer.weight.zero_()
    fresh.load_state_dict(plain.state_dict(), strict=False)
    q = fresh.encoders[0].self_attn.linear_q.base_layer.weight
    assert torch.equal(q, plain.encoders[0].self_attn.linear_q.weight)
    fresh.load_state_dict(sd, strict=True)


def test_frozen_encoder_has_no_trainable_parameters():
    enc = _conformer()
    set_encoder_mode(enc, "frozen")
    assert not any(p.requires_grad for p in enc.parameters())
    assert set(enc.state_dict()) == set(_conformer().state_dict())  # kept: no reload


def test_whisper_lora_targets_and_frozen_weights_left_out(tmp_path):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER)).save_pretrained(tmp_path)
    enc = HFWhisperEncoder(model_name_or_path=str(tmp_path))
    set_encoder_mode(enc, "lora")
    trained = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert {n.split(".")[-4] for n in trained} == {"q_proj", "k_proj", "v_proj", "out_proj"}
    # Pretrained frozen weights are reloaded at build: checkpoints hold adapters only.
    assert set(enc.state_dict()) == trained
    again = HFWhisperEncoder(model_name_or_path=str(tmp_path))
    set_encoder_mode(again, "lora")
    assert not again.load_state_dict(enc.state_dict(), strict=True).missing_keys


@pytest.mark.parametrize(
    "mode, conf, match",
    [
        ("half", None, "encoder_mode='half'"),
        ("frozen", dict(r=2), "encoder_lora_conf is set"),
        ("lora", dict(target_modules=["nope"]), "cannot inject LoRA"),
    ],
)
def test_invalid_config(mode, conf, match):
    with pytest.raises(ValueError, match=match):
        set_encoder_mode(_conformer(), mode, conf)


def test_model_conf_encoder_mode_lora(tmp_path, tiny_tokenizer):
    conf = tiny_train_config(tiny_tokenizer)
    conf["model_conf"].update(encoder_mode="lora", encoder_lora_conf=dict(r=4))
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    model = SpeechLLMTask.build_model(args)
    enc_trained = [n for n, p in model.encoder.named_parameters() if p.requires_grad]
    assert enc_trained and all("lora_" in n for n in enc_trained)
    assert any(p.requires_grad for p in model.projector.parameters())
