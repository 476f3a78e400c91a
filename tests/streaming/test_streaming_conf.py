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
