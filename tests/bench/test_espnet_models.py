import pytest
import torch
import yaml

from bench.espnet_models import (
    build_espnet_ctc_att_model,
    build_espnet_hf_model,
    check_hf_equivalent,
    ctc_att_state_dict,
    espnet_hf_keys,
    full_state_dict,
)
from tiny import tiny_train_config


@pytest.mark.parametrize(
    "ours, espnet",
    [
        ("encoder.encoders.0.norm_ff.weight", ["encoder.encoders.0.norm_ff.weight"]),
        ("normalize.mean", ["normalize.mean"]),
        ("compressor.ctc.ctc_lo.bias", ["postencoder.compressor.ctc.ctc_lo.bias"]),
        ("projector.linear.weight", ["decoder.linear_in.weight"]),
        ("decoder.llm.model.layers.1.mlp.up_proj.weight", ["decoder.decoder.layers.1.mlp.up_proj.weight"]),  # noqa: E501
        ("decoder.llm.lm_head.weight", ["decoder.lm_head.weight"]),
        (
            "decoder.llm.model.embed_tokens.weight",
            ["decoder.decoder.embed_tokens.weight", "decoder.decoder_word_embeddings.weight"],
        ),
    ],
)
def test_espnet_hf_keys(ours, espnet):
    assert espnet_hf_keys(ours) == espnet


def test_espnet_hf_keys_unknown():
    with pytest.raises(ValueError, match="projector.net.0.weight: no place"):
        espnet_hf_keys("projector.net.0.weight")


def test_ctc_att_state_dict_adds_sos_eos_row():
    sd = {
        "encoder.w": torch.ones(2),
        "compressor.ctc.ctc_lo.weight": torch.randn(5, 3),
        "compressor.ctc.ctc_lo.bias": torch.randn(5),
        "projector.linear.weight": torch.ones(1),
        "decoder.llm.lm_head.weight": torch.ones(1),
    }
    out = ctc_att_state_dict(sd)
    assert sorted(out) == ["ctc.ctc_lo.bias", "ctc.ctc_lo.weight", "encoder.w"]
    assert torch.equal(out["ctc.ctc_lo.weight"][:5], sd["compressor.ctc.ctc_lo.weight"])
    assert torch.equal(out["ctc.ctc_lo.weight"][5], torch.zeros(3))
    assert out["ctc.ctc_lo.bias"][5] == -1e4


def _tiny(tmp_path, tiny_tokenizer, tiny_llm, projector="linear", prompt="Transcribe:", width=16):
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    conf = tiny_train_config(tiny_tokenizer, config=None, model_name_or_path=str(tiny_llm))
    conf.update(projector=projector, model_conf=dict(prompt=prompt, ctc_weight=0.3))
    conf["encoder_conf"]["output_size"] = width  # the tiny LLM's is 32
    path = tmp_path / f"{projector}.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path)])
    torch.manual_seed(0)
    model = SpeechLLMTask.build_model(args).eval()
    for p in model.compressor.parameters():  # a random CTC head keeps ~all frames
        torch.nn.init.normal_(p, std=1.0)
    return model, args


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_tokenizer, tiny_llm):
    return _tiny(tmp_path_factory.mktemp("tiny"), tiny_tokenizer, tiny_llm)


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(1)
    speech = torch.randn(2, 16000)
    return speech, torch.tensor([16000, 11000])


def test_hf_transplant_same_audio_and_logits(tiny, tiny_llm, batch):
    ours, args = tiny
    espnet = build_espnet_hf_model(ours, args, str(tiny_llm))
    text = torch.tensor([[5, 9, 17], [40, 3, -1]])
    text_lens = torch.tensor([3, 2])
    with torch.no_grad():
        for b in range(2):  # ESPnet's inference encodes one utterance at a time
            x, n = batch[0][b : b + 1, : batch[1][b]], batch[1][b : b + 1]
            audio, audio_lens = ours.encode(x, n)
            enc, enc_lens = espnet.encode(x, n)
            assert torch.equal(enc_lens, audio_lens)
            assert torch.allclose(espnet.decoder.linear_in(enc), audio, atol=1e-6)

            prefix, prefix_lens = ours.build_prefix(audio, audio_lens, train=False)
            want, _ = ours.decoder(prefix, prefix_lens, text[b : b + 1], text_lens[b : b + 1])
            # ESPnet's decoder drops ys_in[0] (sos) and predicts ys_in[1:] + eos.
            ys_in = torch.cat([torch.tensor([[1]]), text[b : b + 1].clamp(min=0)], 1)
            got, _ = espnet.decoder(enc, enc_lens, ys_in, text_lens[b : b + 1] + 1)
            n_out = int(text_lens[b]) + 1
            assert torch.allclose(got[:, :n_out], want[:, :n_out], atol=1e-5)


def test_hf_transplant_prompt_is_prefix(tiny, tiny_llm):
    ours, args = tiny
    espnet = build_espnet_hf_model(ours, args, str(tiny_llm))
    pre, post = ours.prompt.ids(ours.prompt.eval_prompt)
    want = ours.decoder.embed(torch.tensor(pre))
    assert torch.equal(espnet.decoder.prefix[0], want)
    assert espnet.decoder.postfix.shape[1] == len(post) == 0


def test_hf_transplant_rejects_mlp_projector(tmp_path, tiny_tokenizer, tiny_llm):
    ours, _ = _tiny(tmp_path, tiny_tokenizer, tiny_llm, projector="mlp")
    with pytest.raises(ValueError, match="projector MLPProjector"):
        check_hf_equivalent(ours)


def test_ctc_att_transplant_same_encoder_and_ctc(tiny, batch):
    ours, args = tiny
    dec = dict(attention_heads=2, linear_units=32, num_blocks=1)
    espnet = build_espnet_ctc_att_model(ours, args, dec)
    assert espnet.token_list[0] == "<blank>" and espnet.token_list[-1] == "<sos/eos>"
    assert espnet.token_list[1:-1] == list(ours.token_list)
    with torch.no_grad():
        x, n = batch[0][:1], batch[1][:1]
        enc, enc_lens = ours.encode_frames(x, n)
        got, got_lens = espnet.encode(x, n)
        assert torch.equal(got_lens, enc_lens) and torch.allclose(got, enc, atol=1e-6)
        ours_lp = ours.compressor.ctc.log_softmax(enc)
        espnet_lp = espnet.ctc.log_softmax(got)
        assert torch.allclose(espnet_lp[..., :-1], ours_lp, atol=1e-4)
        assert bool((espnet_lp[..., -1] < -1e3).all())


def test_hf_transplant_rejects_same_width(tmp_path, tiny_tokenizer, tiny_llm):
    ours, _ = _tiny(tmp_path, tiny_tokenizer, tiny_llm, width=32)
    with pytest.raises(ValueError, match="no linear_in"):
        check_hf_equivalent(ours)


def test_full_state_dict_keeps_frozen_llm(tmp_path, tiny_tokenizer, tiny_llm):
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    conf = tiny_train_config(
        tiny_tokenizer, config=None, model_name_or_path=str(tiny_llm), mode="frozen"
    )
    path = tmp_path / "frozen.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path)])
    model = SpeechLLMTask.build_model(args)
    assert not any(k.startswith("decoder.") for k in model.state_dict())
    assert "decoder.llm.lm_head.weight" in full_state_dict(model)
