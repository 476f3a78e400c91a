"""bench/streaming_espnet.py: ESPnet's own streaming ASR behind the streaming bench's calls."""

import csv

import pytest
import soundfile
import torch
import yaml

from bench.streaming import stream_one
from bench.streaming_espnet import EspnetOffline, EspnetStreaming


@pytest.fixture(scope="module")
def espnet_exp(tmp_path_factory, tiny_tokenizer):
    """A random tiny contextual-block-conformer ESPnetASRModel saved as ESPnet writes it."""
    from espnet2.tasks.asr import ASRTask
    from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

    out = tmp_path_factory.mktemp("espnet_stream")
    tokens = out / "tokens.txt"
    hf = (tiny_tokenizer / "tokens.txt").read_text().split("\n")
    tokens.write_text("\n".join(["<blank>", *[t for t in hf if t], "<sos/eos>"]) + "\n")
    conf = dict(
        token_list=str(tokens), token_type="hugging_face", bpemodel=str(tiny_tokenizer),
        frontend_conf=dict(n_fft=512, hop_length=160, n_mels=20), normalize=None,
        encoder="contextual_block_conformer",
        encoder_conf=dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=1,
                          input_layer="conv2d6", block_size=8, hop_size=4, look_ahead=2),
        decoder="transformer", decoder_conf=dict(attention_heads=2, linear_units=32, num_blocks=1),
        model_conf=dict(ctc_weight=0.3),
    )  # fmt: skip
    (out / "train.yaml").write_text(yaml.safe_dump(conf))
    args = ASRTask.get_parser().parse_args(["--config", str(out / "train.yaml")])
    torch.manual_seed(0)
    model = ASRTask.build_model(args)
    torch.save(model.state_dict(), out / "model.pth")
    with open(out / "config.yaml", "w") as f:
        yaml_no_alias_safe_dump(vars(args), f)
    return out


@pytest.fixture(scope="module")
def wav(mini_an4):
    with open(mini_an4 / "utterances.tsv", encoding="utf-8") as f:
        row = next(csv.DictReader(f, delimiter="\t"))
    x, fs = soundfile.read(mini_an4 / row["wav"], dtype="float32")
    assert fs == 16000
    return torch.from_numpy(x)


def test_beam_search_blocks_follow_the_encoder(espnet_exp):
    online = EspnetStreaming(espnet_exp / "config.yaml", espnet_exp / "model.pth", beam_size=2, ctc_weight=0.3)
    search = online.s2t.beam_search
    assert (search.block_size, search.hop_size, search.look_ahead) == (8, 4, 2)
    assert online.chunk_samples(640) == 10240


def test_hypotheses_are_llm_token_ids_and_their_decode(espnet_exp, wav, tiny_tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer)
    offline = EspnetOffline(espnet_exp / "config.yaml", espnet_exp / "model.pth", beam_size=2, ctc_weight=0.3)
    online = EspnetStreaming(espnet_exp / "config.yaml", espnet_exp / "model.pth", beam_size=2, ctc_weight=0.3)
    sos_eos = offline.model.sos
    off = offline(wav)[0]
    r = stream_one(online, wav, 640.0)
    calls = r["calls"]
    assert len(calls) == -(-wav.numel() // 10240)  # one call per 640 ms chunk
    assert r["latency"] > 0 and all(c["done"] >= c["audio_end"] for c in calls)
    for ids, text in [(off.token_ids, off.text)] + [(c["ids"], c["text"]) for c in calls]:
        assert all(0 < t < sos_eos for t in ids)  # no blank, no <sos/eos>
        assert text == tok.decode(ids, skip_special_tokens=True).strip()
    assert calls[-1]["ids"], "a random model still emits tokens up to its length limit"
    ends = offline.token_end_times(wav, calls[-1]["ids"][:3])
    duration = wav.numel() / 16000
    assert ends is None or (len(ends) == 3 and ends == sorted(ends) and 0 < ends[-1] <= duration + 1e-6)


def test_reset_makes_a_second_pass_identical(espnet_exp, wav):
    online = EspnetStreaming(espnet_exp / "config.yaml", espnet_exp / "model.pth", beam_size=2, ctc_weight=0.3)
    first = [c["ids"] for c in stream_one(online, wav, 320.0)["calls"]]
    second = [c["ids"] for c in stream_one(online, wav, 320.0)["calls"]]
    assert first == second
