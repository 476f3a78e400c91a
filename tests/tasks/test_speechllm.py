import argparse

import pytest
import torch
import yaml

from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from tiny import TINY_LLAMA, tiny_train_config


def _config(tmp_path, tok, **over):
    conf = tiny_train_config(tok)
    conf.update(over)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def _args(config_path) -> argparse.Namespace:
    parser = SpeechLLMTask.get_parser()
    return parser.parse_args(["--config", str(config_path), "--output_dir", "unused"])


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as e:
        SpeechLLMTask.main(cmd=["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--compressor", "--projector", "--decoder_conf", "--token_list"):
        assert flag in out


def test_print_config_round_trip(tmp_path, monkeypatch):
    """--print_config shows the defaults of the chosen classes; they parse back."""
    import io

    monkeypatch.setattr("sys.argv", ["x", "--compressor", "ctc", "--projector", "mlp"])
    buf = io.StringIO()
    SpeechLLMTask.print_config(file=buf)
    printed = yaml.safe_load(buf.getvalue())
    assert printed["compressor"] == "ctc" and printed["projector"] == "mlp"
    assert printed["compressor_conf"]["mode"] == "frame_averaging"
    assert printed["decoder_conf"]["mode"] == "frozen"
    path = tmp_path / "printed.yaml"
    path.write_text(buf.getvalue())
    args = vars(_args(path))
    for key, value in printed.items():
        if key != "output_dir":  # _args() sets it
            assert args[key] == value, key


@pytest.mark.parametrize("compressor", ["none", "identity", "stack", "conv", "ctc"])
@pytest.mark.parametrize("projector", ["linear", "mlp", "transformer"])
def test_build_forward_backward(tmp_path, tiny_tokenizer, compressor, projector):
    model = SpeechLLMTask.build_model(
        _args(_config(tmp_path, tiny_tokenizer, compressor=compressor, projector=projector,
                      compressor_conf={}))
    )
    speech = torch.randn(2, 8000)
    text = torch.tensor([[40, 41, 42], [43, -1, -1]])
    loss, stats, weight = model(speech, torch.tensor([8000, 6000]), text, torch.tensor([3, 1]))
    loss.backward()
    assert torch.isfinite(loss) and weight == 2
    assert {"loss", "acc", "loss_att", "compression_ratio", "prefix_length"} <= set(stats)
    assert ("loss_ctc" in stats) == (compressor == "ctc")
    assert model.decoder.llm.get_input_embeddings().weight.grad is not None


@pytest.mark.parametrize("mode,n_llm_trained", [("frozen", 0), ("lora", 4 * 2 * 2)])
def test_llm_modes(tmp_path, tiny_tokenizer, tiny_llm, mode, n_llm_trained):
    conf = tiny_train_config(tiny_tokenizer, mode=mode, config=None, model_name_or_path=str(tiny_llm))
    model = SpeechLLMTask.build_model(_args(_write(tmp_path, conf)))
    trained = [n for n, p in model.decoder.named_parameters() if p.requires_grad]
    # LoRA: A and B for q, k, v, o in each of 2 layers.
    assert len(trained) == n_llm_trained
    assert all(p.requires_grad for p in model.encoder.parameters())
    keys = model.state_dict().keys()
    assert not any(k.startswith("decoder.") and "lora_" not in k for k in keys)


def _write(tmp_path, conf):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def test_token_list_mismatch_is_named(tmp_path, tiny_tokenizer):
    short = tmp_path / "tokens.txt"
    short.write_text("a\nb\n")
    config = _config(tmp_path, tiny_tokenizer, token_list=str(short))
    with pytest.raises(ValueError, match="--token_list has 2 tokens"):
        SpeechLLMTask.build_model(_args(config))


def test_unknown_conf_key_is_named(tmp_path, tiny_tokenizer, capsys):
    config = _config(tmp_path, tiny_tokenizer, compresor="ctc")
    with pytest.raises(SystemExit):
        _args(config)
    assert "compresor" in capsys.readouterr().err


def test_unknown_class_conf_key_is_named(tmp_path, tiny_tokenizer):
    config = _config(tmp_path, tiny_tokenizer, compressor_conf=dict(mode="frame_averaging", strid=2))
    with pytest.raises(TypeError, match="strid"):
        SpeechLLMTask.build_model(_args(config))


def test_build_model_from_file_is_strict_and_loads_lora_checkpoints(tmp_path, tiny_tokenizer, tiny_llm):
    """A LoRA checkpoint holds the trained parts only and loads; a wrong one fails."""
    conf = tiny_train_config(tiny_tokenizer, mode="lora", config=None, model_name_or_path=str(tiny_llm))
    args = _args(_write(tmp_path, conf))
    torch.manual_seed(0)
    model = SpeechLLMTask.build_model(args)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_()  # LoRA B starts at zero: make the loaded values tell
    state = model.state_dict()
    assert any("lora_B" in k for k in state) and not any(".base_layer." in k for k in state)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(state, tmp_path / "model.pth")

    torch.manual_seed(1)
    loaded, _ = SpeechLLMTask.build_model_from_file(tmp_path / "config.yaml", tmp_path / "model.pth")
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, state[k]), k
    # The frozen base weights come from the pretrained LLM, as in the original.
    base = {k: v for k, v in model.decoder.causal_lm.state_dict().items() if "lora_" not in k}
    for k, v in loaded.decoder.causal_lm.state_dict().items():
        if k in base:
            assert torch.equal(v, base[k]), k

    torch.save(dict(state, **{"decoder.llm.bogus": torch.zeros(1)}), tmp_path / "extra.pth")
    with pytest.raises(RuntimeError, match="bogus"):
        SpeechLLMTask.build_model_from_file(tmp_path / "config.yaml", tmp_path / "extra.pth")
    partial = {k: v for k, v in state.items() if not k.startswith("projector.")}
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(RuntimeError, match="projector"):
        SpeechLLMTask.build_model_from_file(tmp_path / "config.yaml", tmp_path / "partial.pth")


def test_decoder_slot_is_typed_by_the_contract():
    from espnet_speechllm.asr.decoder.abs_llm_decoder import AbsLLMDecoder
    from espnet_speechllm.tasks.speechllm import decoder_choices

    assert decoder_choices.base_type is AbsLLMDecoder
    assert all(issubclass(c, AbsLLMDecoder) for c in decoder_choices.classes.values())


@pytest.mark.parametrize(
    "use_deepspeed, distributed, summed",
    [(True, True, True), (True, False, False), (False, True, False)],
)
def test_deepspeed_training_loss_is_summed_over_the_batch(
    tmp_path, tiny_tokenizer, use_deepspeed, distributed, summed
):
    """ESPnet's DeepSpeedTrainer divides the loss by the utterance count (ESPnet falls
    back to its Trainer when not distributed): it gets the batch's sum, B x the mean."""
    args = _args(_config(tmp_path, tiny_tokenizer, use_deepspeed=use_deepspeed))
    args.distributed = distributed  # what ESPnet's resolve_distributed_mode sets
    model = SpeechLLMTask.build_model(args)
    assert model.loss_summed_over_batch == summed
    speech, lens = torch.randn(2, 8000), torch.tensor([8000, 6000])
    text, text_lens = torch.tensor([[40, 41, 42], [43, -1, -1]]), torch.tensor([3, 1])
    torch.manual_seed(0)
    loss, stats, _ = model(speech, lens, text, text_lens)
    torch.testing.assert_close(loss, stats["loss"] * (2 if summed else 1))
    model.eval()
    loss, stats, _ = model(speech, lens, text, text_lens)
    torch.testing.assert_close(loss, stats["loss"])  # validation reports the mean
