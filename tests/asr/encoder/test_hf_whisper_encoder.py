import pytest
import torch

from espnet_speechllm.asr.encoder.hf_whisper_encoder import HFWhisperEncoder
from tiny import TINY_WHISPER

LENS = [16000, 9000, 4321]


def _encoder(**kw) -> HFWhisperEncoder:
    torch.manual_seed(0)
    return HFWhisperEncoder(config=dict(TINY_WHISPER), **kw).eval()


def _speech(lens=LENS):
    torch.manual_seed(1)
    return torch.randn(len(lens), max(lens)) * 0.1, torch.tensor(lens)


def test_shapes_lengths_and_backward():
    enc = _encoder().train()
    xs, ilens = _speech()
    hs, hlens, _ = enc(xs, ilens)
    # 160-sample hop, then the stride-2 conv: ceil((S // 160) / 2) frames.
    assert hlens.tolist() == [50, 28, 14]
    assert hs.shape == (3, 50, TINY_WHISPER["d_model"])
    assert enc.output_size() == TINY_WHISPER["d_model"]
    assert float(hs[2, 14:].detach().abs().sum()) == 0.0  # padding is zero
    hs.sum().backward()
    assert enc.encoder.layers[0].self_attn.q_proj.weight.grad is not None


def test_utterance_alone_equals_inside_batch():
    enc = _encoder()
    xs, ilens = _speech()
    with torch.no_grad():
        hs, hlens, _ = enc(xs, ilens)
        for b, n in enumerate(LENS):
            one, one_len, _ = enc(xs[b : b + 1, :n], ilens[b : b + 1])
            assert int(one_len) == int(hlens[b])
            torch.testing.assert_close(one[0], hs[b, : hlens[b]], atol=1e-5, rtol=1e-5)


def test_full_window_equals_hf_whisper_pipeline():
    """At exactly the model's window (here 1 s) nothing is sliced: HF's own
    feature extractor + WhisperEncoder give the same states."""
    from transformers import WhisperFeatureExtractor

    enc = _encoder()
    xs, _ = _speech([16000])
    fe = WhisperFeatureExtractor(feature_size=80, chunk_length=1)
    feats = fe(xs[0].numpy(), sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        ref = enc.encoder(feats).last_hidden_state
        hs, _, _ = enc(xs, torch.tensor([16000]))
    assert feats.shape[-1] == 100
    torch.testing.assert_close(hs, ref, atol=1e-4, rtol=1e-4)


def test_log_mel_matches_feature_extractor_inside_the_utterance():
    from transformers import WhisperFeatureExtractor

    enc = _encoder()
    xs, ilens = _speech([9000])
    mel, flens = enc.log_mel(xs, ilens)
    assert flens.tolist() == [9000 // 160] and mel.shape == (1, 56, 80)
    fe = WhisperFeatureExtractor(feature_size=80, chunk_length=1)
    ref = fe(xs[0].numpy(), sampling_rate=16000, return_tensors="pt").input_features
    # HF pads with zeros to its window: only frames away from the end agree.
    torch.testing.assert_close(mel[0, :50], ref[0].T[:50], atol=1e-4, rtol=1e-4)


def test_too_long_and_too_short_inputs_raise():
    enc = _encoder()
    with pytest.raises(ValueError, match="exceed the model's 50 positions"):
        enc(*_speech([16320]))
    with pytest.raises(ValueError, match="need > 200 samples"):
        enc(*_speech([150]))


def test_pretrained_dir_round_trip(tmp_path):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER)).save_pretrained(tmp_path)
    enc = HFWhisperEncoder(model_name_or_path=str(tmp_path)).eval()
    assert enc.reloads_pretrained()
    ref = WhisperForConditionalGeneration.from_pretrained(tmp_path).model.encoder
    for (n, p), (_, q) in zip(enc.encoder.named_parameters(), ref.named_parameters()):
        assert torch.equal(p, q), n


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="exactly one of model_name_or_path"):
        HFWhisperEncoder()
    with pytest.raises(FileNotFoundError, match="encoder_conf.model_name_or_path"):
        HFWhisperEncoder(model_name_or_path=str(tmp_path / "missing"))
