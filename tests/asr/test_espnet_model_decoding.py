"""The model's public decoding API: prepare_decoding and min_input_samples."""

import pytest
import torch
import yaml

from espnet_speechllm.asr.decoding_input import DecodingInput
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from tiny import TINY_LLAMA, tiny_train_config

LENS = [8000, 6000, 7200]


def _build(tmp_path, tok, **top):
    conf = tiny_train_config(tok)
    conf.update(top)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    torch.manual_seed(0)
    return SpeechLLMTask.build_model(args).eval()


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_tokenizer):
    return _build(tmp_path_factory.mktemp("dec"), tiny_tokenizer)


def _speech():
    torch.manual_seed(3)
    return torch.randn(len(LENS), max(LENS)), torch.tensor(LENS)


@torch.no_grad()
def test_prepare_decoding_equals_the_parts(model):
    """encode_frames -> to_llm_space -> build_prefix, and the CTC head's log posteriors."""
    speech, lens = _speech()
    prompts = [model.prompt.ids("Write it down:")] * len(LENS)
    dec = model.prepare_decoding(speech, lens, prompts=prompts, ctc=True)
    assert isinstance(dec, DecodingInput)

    enc, enc_lens = model.encode_frames(speech, lens)
    audio, audio_lens = model.to_llm_space(enc, enc_lens)
    prefix, prefix_lens = model.build_prefix(audio, audio_lens, train=False, prompts=prompts)
    assert torch.equal(dec.prefix, prefix) and torch.equal(dec.prefix_lens, prefix_lens)
    assert torch.equal(dec.audio_lens, audio_lens) and torch.equal(dec.enc_lens, enc_lens)

    pre, post = prompts[0]
    assert dec.prefix.shape == (3, int(dec.prefix_lens.max()), TINY_LLAMA["hidden_size"])
    assert dec.prefix_lens.tolist() == [len(pre) + n + len(post) for n in audio_lens.tolist()]
    logp = model.compressor.ctc_head.log_softmax(enc)
    assert len(dec.ctc_logp) == 3
    for b, n in enumerate(enc_lens.tolist()):
        assert dec.ctc_logp[b].shape == (n, TINY_LLAMA["vocab_size"] + 1)
        assert torch.equal(dec.ctc_logp[b], logp[b, :n])
    # Default: the eval prompt, no CTC.
    plain = model.prepare_decoding(speech, lens)
    eval_prefix, _ = model.build_prefix(audio, audio_lens, train=False)
    assert plain.ctc_logp is None and torch.equal(plain.prefix, eval_prefix)


@torch.no_grad()
def test_prepare_decoding_gives_each_utterance_what_it_gets_alone(model):
    speech, lens = _speech()
    dec = model.prepare_decoding(speech, lens, ctc=True)
    for b, n in enumerate(LENS):
        one = model.prepare_decoding(speech[b : b + 1, :n], lens[b : b + 1], ctc=True)
        p = int(one.prefix_lens[0])
        assert int(dec.prefix_lens[b]) == p
        torch.testing.assert_close(dec.prefix[b, :p], one.prefix[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(dec.ctc_logp[b], one.ctc_logp[0], atol=1e-5, rtol=1e-5)


def test_prepare_decoding_ctc_needs_a_ctc_head(tmp_path, tiny_tokenizer):
    stack = _build(tmp_path, tiny_tokenizer, compressor="stack", compressor_conf=dict(stride=2))
    assert stack.compressor.ctc_head is None
    speech, lens = _speech()
    with pytest.raises(ValueError, match="CTC head .*StackCompressor"):
        stack.prepare_decoding(speech, lens, ctc=True)


@torch.no_grad()
def test_min_input_samples_is_the_shortest_encodable_input(model):
    n = model.min_input_samples(16000)
    # The tiny conformer's conv2d needs 7 frames; the STFT gives samples // 160 + 1.
    assert n == 6 * 160
    _, enc_lens = model.encode_batch(torch.zeros(1, n), torch.tensor([n]))
    assert int(enc_lens[0]) >= 1
    with pytest.raises(Exception):
        _, short = model.encode_batch(torch.zeros(1, n - 1), torch.tensor([n - 1]))
        assert int(short[0]) >= 1  # if it does not raise, it must leave no frame
    with pytest.raises(ValueError, match="cannot encode 100 samples"):
        model.min_input_samples(100)


VARIANTS = {
    "conv2d_ctc": {},
    "conv2d6_stack3": dict(
        encoder_conf=dict(output_size=32, attention_heads=2, linear_units=64, num_blocks=1, input_layer="conv2d6"),
        compressor="stack", compressor_conf=dict(stride=3),
    ),
    "conv1d_mlp_projector": dict(projector="conv1d_mlp", projector_conf=dict(stride=2)),
}


@pytest.mark.parametrize("variant", [*VARIANTS, "whisper"])
@torch.no_grad()
def test_max_audio_positions_bounds_the_positions_before_encoding(tmp_path, tiny_tokenizer, tiny_whisper_dir, variant):
    """Encoder frames <= max_encoded_frames <= frames + a slack that grows by 2 frames
    per (b - a) samples away from a; LLM audio positions <= max_audio_positions (CTC: any posteriors)."""
    if variant == "whisper":
        top = dict(
            frontend=None, input_size=1, normalize=None,
            encoder="hf_whisper", encoder_conf=dict(model_name_or_path=str(tiny_whisper_dir)),
        )  # fmt: skip
        lengths = [400, 1601, 7777, 10000, 15999]  # its window is 1 s
    else:
        top = VARIANTS[variant]
        lengths = [960, 4000, 16000, 16001, 33333, 80000, 80001, 123457, 250000]
    model = _build(tmp_path, tiny_tokenizer, **top)
    # The probes: 1 s and 5 s, or 1/8 s and 5/8 s for the tiny Whisper's 1 s window.
    a, b = (2000, 10000) if variant == "whisper" else (16000, 80000)
    torch.manual_seed(0)
    for n in [n for n in lengths if n >= model.min_input_samples(16000)]:
        _, enc_lens = model.encode_batch(torch.zeros(1, n), torch.tensor([n]))
        frames, bound = int(enc_lens[0]), model.max_encoded_frames(n)
        assert frames <= bound <= frames + 5 + 2 * abs(n - a) // (b - a), (n, frames, bound)
        enc = torch.randn(1, frames, model.encoder.output_size())
        _, audio_lens = model.to_llm_space(enc, enc_lens)
        assert int(audio_lens[0]) <= model.max_audio_positions(n), n
        assert model.max_audio_positions(n) == model.projector.max_output_length(
            model.compressor.max_output_length(bound)
        )
    if variant in ("conv2d6_stack3", "conv1d_mlp_projector"):  # the bound follows the stride
        assert model.max_audio_positions(250000) == -(-bound // (3 if "stack" in variant else 2))
