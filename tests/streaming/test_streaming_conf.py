"""espeak_en's streaming conf: the default system with the encoder swapped, and it builds."""

from pathlib import Path

import torch
import yaml

from espnet_speechllm.tasks.speechllm import encoder_choices

TUNING = Path(__file__).resolve().parents[2] / "egs2" / "espeak_en" / "speechllm1" / "conf" / "tuning"


def _load(name):
    return yaml.safe_load((TUNING / name).read_text())


def test_only_the_encoder_differs_from_the_default_system():
    stream = _load("train_speechllm_streaming_conformer_ctc_scratchlm.yaml")
    default = _load("train_speechllm_conformer_ctc_scratchlm.yaml")
    assert {k for k in stream.keys() | default.keys() if stream.get(k) != default.get(k)} == {
        "encoder", "encoder_conf"
    }
    assert stream["encoder"] == "contextual_block_conformer"
    same_sizes = ("output_size", "attention_heads", "linear_units", "num_blocks", "input_layer")
    assert {k: stream["encoder_conf"][k] for k in same_sizes} == {k: default["encoder_conf"][k] for k in same_sizes}


def test_encoder_builds_and_streams_from_the_conf():
    conf = _load("train_speechllm_streaming_conformer_ctc_scratchlm.yaml")["encoder_conf"]
    assert {"block_size", "hop_size", "look_ahead"} <= conf.keys()
    enc = encoder_choices.get_class("contextual_block_conformer")(input_size=80, **conf).eval()
    x = torch.randn(1, 300, 80)
    with torch.no_grad():
        ref, ref_lens, _ = enc(x, torch.tensor([300]))
        a, _, st = enc.forward_chunk(x[:, :200], torch.tensor([200]), None, False)
        b, _, _ = enc.forward_chunk(x[:, 200:], torch.tensor([100]), st, True)
    assert ref.shape == (1, int(ref_lens[0]), 128) and 0 < a.size(1) < ref.size(1)
    torch.testing.assert_close(torch.cat([a, b], 1), ref, rtol=0, atol=1e-5)


def test_espnet_streaming_asr_has_the_speech_llms_encoder_and_size():
    """ESPnet's own streaming CTC/attention ASR (the bench's comparison): same encoder as the
    streaming speech-LLM, a Transformer decoder about as large as its 4-layer Llama."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from espnet2.tasks.asr import decoder_choices

    asr = _load("train_asr_streaming_conformer_transformer.yaml")
    llm = _load("train_speechllm_streaming_conformer_ctc_scratchlm.yaml")
    assert asr["encoder"] == llm["encoder"] and asr["encoder_conf"] == llm["encoder_conf"]
    assert asr["frontend_conf"] == llm["frontend_conf"] and asr["specaug_conf"] == llm["specaug_conf"]
    vocab = 500  # the recipe's --llm_vocab_size; ESPnet adds <blank> and <sos/eos>
    dec = decoder_choices.get_class(asr["decoder"])(vocab + 2, 128, **asr["decoder_conf"])
    lm_conf = dict(yaml.safe_load((TUNING.parent / "train_lm.yaml").read_text())["decoder_conf"]["config"])
    lm = AutoModelForCausalLM.from_config(AutoConfig.for_model(lm_conf.pop("model_type"), vocab_size=vocab, **lm_conf))
    n_dec, n_lm = (sum(p.numel() for p in m.parameters()) for m in (dec, lm))
    assert abs(n_dec - n_lm) / n_lm < 0.05, (n_dec, n_lm)
