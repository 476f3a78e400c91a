import random

import pytest
import torch
import torch.nn.functional as F
import yaml

from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel, _append_eos
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from tiny import tiny_train_config

HOP = 160  # tiny_train_config's frontend hop_length
LENS = [8000, 6000, 7200]
TEXT = torch.tensor([[40, 41, 42], [43, -1, -1], [44, 45, -1]])
TEXT_LENS = torch.tensor([3, 1, 2])
PROMPTS = ["Transcribe:", "Write it down:"]


def _build(tmp_path, tok, **model_conf) -> ESPnetSpeechLLMModel:
    conf = tiny_train_config(tok)
    conf["model_conf"].update(model_conf)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    torch.manual_seed(0)
    return SpeechLLMTask.build_model(args)


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_tokenizer) -> ESPnetSpeechLLMModel:
    """Tiny model whose template also puts text after the audio."""
    return _build(
        tmp_path_factory.mktemp("model"),
        tiny_tokenizer,
        prompt_template="{prompt}{audio} Text:",
    ).eval()


def _speech():
    torch.manual_seed(3)
    return torch.randn(len(LENS), max(LENS)), torch.tensor(LENS)


def _batch_encode(model, speech, lens):
    """What forward() feeds the LLM: the frontend runs on the padded batch."""
    enc, enc_lens = model.encode_batch(speech, lens)
    return model.to_llm_space(enc, enc_lens)


@torch.no_grad()
def _reference_nll(model, speech, lens, text, text_lens):
    """Summed next-token NLL of text + eos, straight from the HF model on the
    unpadded sequence [pre | audio | post | text | eos] with labels -100 on the
    prefix (HF's own ignore index and shift), and the greedy hits."""
    lm, emb = model.decoder.causal_lm, model.decoder.causal_lm.get_input_embeddings()
    audio, audio_lens = _batch_encode(model, speech, lens)
    pre, post = model.prompt.ids(model.prompt.eval_prompt)
    nll, hits, n = 0.0, 0, 0
    for b in range(speech.size(0)):
        ids = text[b, : text_lens[b]].tolist() + [model.decoder.eos]
        seq = torch.cat(
            [
                emb(torch.tensor(pre)),
                audio[b, : audio_lens[b]],
                emb(torch.tensor(post, dtype=torch.long)),
                emb(torch.tensor(ids)),
            ]
        )
        n_prefix = len(pre) + int(audio_lens[b]) + len(post)
        labels = torch.tensor([-100] * n_prefix + ids)
        out = lm(inputs_embeds=seq[None], labels=labels[None])
        nll += float(out.loss) * len(ids)
        pred = out.logits[0, n_prefix - 1 : -1].argmax(-1)
        hits += int((pred == torch.tensor(ids)).sum())
        n += len(ids)
    return nll, hits, n


def test_stats_values_match_a_hand_computation(model):
    speech, lens = _speech()
    with torch.no_grad():
        loss, stats, weight = model(speech, lens, TEXT, TEXT_LENS)
        audio, audio_lens = _batch_encode(model, speech, lens)
    assert int(weight) == 3
    assert set(stats) == {
        "loss", "loss_att", "loss_ctc", "acc", "compression_ratio", "prefix_length", "prefix_ratio"
    }

    # Frontend frames (centred STFT) per LLM audio position, averaged over utterances.
    frames = torch.tensor([s // HOP + 1 for s in LENS], dtype=torch.float)
    assert (audio_lens > 0).all()
    ratio = (frames / audio_lens.float()).mean()
    assert float(stats["compression_ratio"]) == pytest.approx(float(ratio), rel=1e-6)
    pre, post = model.prompt.ids(model.prompt.eval_prompt)
    assert len(post) > 0
    prefix_len = (audio_lens.float() + len(pre) + len(post)).mean()
    assert float(stats["prefix_length"]) == pytest.approx(float(prefix_len), rel=1e-6)
    # Input frames per LLM prefix position (prompt included), mean of per-utterance ratios.
    prefix_ratio = (frames / (audio_lens.float() + len(pre) + len(post))).mean()
    assert float(stats["prefix_ratio"]) == pytest.approx(float(prefix_ratio), rel=1e-6)
    assert float(stats["prefix_ratio"]) < float(stats["compression_ratio"])

    nll, hits, n = _reference_nll(model, speech, lens, TEXT, TEXT_LENS)
    assert n == int(TEXT_LENS.sum()) + 3  # every text token + one eos each, nothing else
    assert float(stats["loss_att"]) == pytest.approx(nll / n, rel=1e-4)
    assert float(stats["acc"]) == pytest.approx(hits / n, abs=1e-6)

    # CTC on the encoder states: LLM token t is CTC class t + 1, blank 0, sum / B.
    with torch.no_grad():
        enc, enc_lens = model.encode_batch(speech, lens)
        logp = model.compressor.ctc.log_softmax(enc).transpose(0, 1)
    targets = torch.cat([TEXT[b, : TEXT_LENS[b]] + 1 for b in range(3)])
    ctc = F.ctc_loss(logp, targets, enc_lens, TEXT_LENS, blank=0, reduction="sum", zero_infinity=True) / 3
    assert float(stats["loss_ctc"]) == pytest.approx(float(ctc), rel=1e-4)
    expected = 0.7 * stats["loss_att"] + 0.3 * stats["loss_ctc"]
    assert float(stats["loss"]) == pytest.approx(float(expected), rel=1e-6)
    assert float(loss) == pytest.approx(float(stats["loss"]), rel=1e-6)


@pytest.fixture(scope="module")
def latest_relpos_model(tmp_path_factory, tiny_tokenizer) -> ESPnetSpeechLLMModel:
    """The tiny model with rel_pos_type latest: its encoder runs batched in encode()."""
    enc = dict(tiny_train_config(tiny_tokenizer)["encoder_conf"], rel_pos_type="latest",
               pos_enc_layer_type="rel_pos", selfattention_layer_type="rel_selfattn")  # fmt: skip
    torch.manual_seed(0)
    return _build_with(tmp_path_factory.mktemp("latest"), tiny_tokenizer, {"encoder_conf": enc}).eval()


@pytest.mark.parametrize("which", ["model", "latest_relpos_model"])
def test_encode_batch_equals_one_by_one(which, request):
    """encode() (used in decoding) gives each utterance what it gets alone: per-utterance
    encoding for the legacy relative positions, the batched exact path otherwise."""
    from espnet_speechllm.asr.layers.batch_exact import is_batch_exact

    model = request.getfixturevalue(which)
    assert is_batch_exact(model.encoder) == (which == "latest_relpos_model")
    speech, lens = _speech()
    with torch.no_grad():
        audio, audio_lens = model.encode(speech, lens)
        for b, n in enumerate(LENS):
            one, one_lens = model.encode(speech[b : b + 1, :n], lens[b : b + 1])
            assert one_lens.tolist() == [int(audio_lens[b])]
            torch.testing.assert_close(audio[b, : audio_lens[b]], one[0], atol=1e-5, rtol=1e-4)
            assert (audio[b, audio_lens[b] :] == 0).all()


def test_targets_are_text_then_eos_and_ignored_elsewhere():
    target = _append_eos(TEXT, TEXT_LENS, eos=2)
    assert target.tolist() == [[40, 41, 42, 2], [43, 2, -1, -1], [44, 45, 2, -1]]


def test_build_prefix_layout(model):
    torch.manual_seed(0)
    audio, audio_lens = torch.randn(2, 5, model.decoder.output_size()), torch.tensor([5, 2])
    pre, post = [1, 50, 51], [60, 61]
    with torch.no_grad():
        prefix, lens = model.build_prefix(audio, audio_lens, False, prompts=[(pre, post), (pre, [])])
        emb = model.decoder.embed(torch.tensor(pre + post))
    assert lens.tolist() == [10, 5]
    assert prefix.shape == (2, 10, audio.size(-1))
    torch.testing.assert_close(prefix[0], torch.cat([emb[:3], audio[0], emb[3:]]))
    torch.testing.assert_close(prefix[1, :5], torch.cat([emb[:3], audio[1, :2]]))
    assert (prefix[1, 5:] == 0).all()
    with pytest.raises(ValueError, match="1 prompts for a batch of 2"):
        model.build_prefix(audio, audio_lens, False, prompts=[(pre, post)])


def test_backward_reaches_every_trained_part(tmp_path, tiny_tokenizer):
    model = _build(tmp_path, tiny_tokenizer).train()
    speech, lens = _speech()
    loss, stats, _ = model(speech, lens, TEXT, TEXT_LENS)
    assert torch.isfinite(loss) and float(stats["loss_ctc"]) > 0
    loss.backward()
    for part in (model.encoder, model.compressor.ctc, model.projector, model.decoder):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.compressor.ctc.ctc_lo.weight.grad.abs().sum() > 0


def test_ctc_weight_zero_has_no_ctc_term(tmp_path, tiny_tokenizer):
    model = _build(tmp_path, tiny_tokenizer, ctc_weight=0.0).train()
    speech, lens = _speech()
    loss, stats, _ = model(speech, lens, TEXT, TEXT_LENS)
    assert "loss_ctc" not in stats
    assert float(loss.detach()) == pytest.approx(float(stats["loss_att"]), rel=1e-6)
    loss.backward()
    # The CTC head is only used through a no-grad argmax: nothing trains it.
    assert model.compressor.ctc.ctc_lo.weight.grad is None
    assert model.projector.parameters().__next__().grad is not None


def test_ctc_weight_out_of_range(tmp_path, tiny_tokenizer):
    with pytest.raises(ValueError, match=r"model_conf.ctc_weight=1.5 must be in \[0, 1\]"):
        _build(tmp_path, tiny_tokenizer, ctc_weight=1.5)


def test_training_samples_the_prompt_list_and_eval_uses_eval_prompt(tmp_path, tiny_tokenizer):
    model = _build(tmp_path, tiny_tokenizer, eval_prompt="Write it down:")
    n_prompt = {p: len(model.prompt.ids(p)[0]) for p in PROMPTS}
    assert n_prompt[PROMPTS[0]] != n_prompt[PROMPTS[1]]
    audio = torch.zeros(40, 3, model.decoder.output_size())
    audio_lens = torch.full((40,), 3)
    random.seed(0)
    with torch.no_grad():
        _, train_lens = model.build_prefix(audio, audio_lens, train=True)
        _, eval_lens = model.build_prefix(audio, audio_lens, train=False)
    assert set((train_lens - 3).tolist()) == set(n_prompt.values())
    assert set((eval_lens - 3).tolist()) == {n_prompt["Write it down:"]}

    # forward() asks for sampled prompts in training mode only.
    calls = []
    sample = model.prompt.sample
    model.prompt.sample = lambda n, train, **kw: calls.append(train) or sample(n, train, **kw)
    speech, lens = _speech()
    with torch.no_grad():
        model.train()(speech, lens, TEXT, TEXT_LENS)
        model.eval()(speech, lens, TEXT, TEXT_LENS)
    assert calls == [True, False]


def test_default_eval_prompt_is_the_first(model):
    assert model.prompt.eval_prompt == PROMPTS[0]


def test_empty_text_trains_eos_right_after_the_prefix(model):
    """Defined behaviour: an empty transcript is the target [eos]."""
    speech, lens = _speech()
    empty = torch.full((3, 0), -1)
    zero = torch.zeros(3, dtype=torch.long)
    with torch.no_grad():
        loss, stats, _ = model(speech, lens, empty, zero)
    nll, _, n = _reference_nll(model, speech, lens, empty, zero)
    assert n == 3
    assert float(stats["loss_att"]) == pytest.approx(nll / 3, rel=1e-4)
    assert torch.isfinite(loss) and torch.isfinite(stats["loss_ctc"])
    # One empty transcript among non-empty ones: the same per-token mean.
    text = TEXT.clone()
    text[1] = -1
    lens1 = torch.tensor([3, 0, 2])
    with torch.no_grad():
        _, stats, _ = model(speech, lens, text, lens1)
    nll, _, n = _reference_nll(model, speech, lens, text, lens1)
    assert n == 5 + 3
    assert float(stats["loss_att"]) == pytest.approx(nll / n, rel=1e-4)


def test_token_id_outside_the_llm_vocabulary_names_the_utterance(model):
    speech, lens = _speech()
    text = TEXT.clone()
    text[2, 1] = 320  # vocab_size of the tiny LLM
    with pytest.raises(ValueError, match=r"utt-c: text token id 320 is outside the LLM vocabulary \[0, 320\)"):
        model(speech, lens, text, TEXT_LENS, utt_id=["utt-a", "utt-b", "utt-c"])
    # Padding beyond each length is not checked; without keys the batch index is named.
    text = TEXT.clone()
    text[1, 0] = -5
    with pytest.raises(ValueError, match="batch index 1: text token id -5"):
        model(speech, lens, text, TEXT_LENS)


def test_text_lengths_longer_than_the_text(model):
    speech, lens = _speech()
    with pytest.raises(ValueError, match=r"utt-a: text_lengths=4 > 3 padded text columns"):
        model(speech, lens, TEXT, torch.tensor([4, 1, 2]), utt_id=["utt-a", "utt-b", "utt-c"])


def test_text_mask_replaces_inputs_in_training_only(tmp_path, tiny_tokenizer):
    model = _build(tmp_path, tiny_tokenizer, text_mask_prob=0.5)
    text = torch.randint(4, 300, (64, 50))
    text[:, 40:] = -1  # padding stays padding
    torch.manual_seed(0)
    masked = model.train()._mask_text(text)
    changed = (masked != text)[:, :40].float().mean().item()
    assert 0.4 < changed < 0.6  # p=0.5, minus random hits on the same token
    assert bool((masked[:, 40:] == -1).all())
    assert int(masked.min()) >= -1 and int(masked.max()) < model.decoder.vocab_size
    assert torch.equal(model.eval()._mask_text(text), text)
    with pytest.raises(ValueError, match="text_mask_prob"):
        _build(tmp_path, tiny_tokenizer, text_mask_prob=1.0)


def test_ctc_embedding_adds_posterior_weighted_token_embeddings(tmp_path, tiny_tokenizer):
    plain = _build(tmp_path, tiny_tokenizer).eval()
    model = _build(tmp_path, tiny_tokenizer, ctc_embedding=True).eval()
    speech, lens = _speech()
    with torch.no_grad():
        enc, enc_lens = model.encode_batch(speech, lens)
        comp, comp_lens = model.compressor(enc, enc_lens)
        audio, audio_lens = model.to_llm_space(enc, enc_lens)
        base, _ = plain.to_llm_space(enc, enc_lens)  # same seed: same projector
        post = torch.softmax(model.compressor.ctc.ctc_lo(comp), -1)
        table = model.decoder.input_embeddings.weight
        expect = base + post[..., 1:] @ table[: post.size(-1) - 1]
    assert torch.equal(audio_lens, comp_lens)
    assert torch.allclose(audio, expect, atol=1e-5)
    assert not torch.allclose(audio, base, atol=1e-3)
    conf = dict(compressor="stack", compressor_conf=dict(stride=2))
    with pytest.raises(ValueError, match="ctc_embedding needs a CTC compressor"):
        _build_with(tmp_path, tiny_tokenizer, conf, ctc_embedding=True)


def _build_with(tmp_path, tok, top: dict, **model_conf) -> ESPnetSpeechLLMModel:
    conf = tiny_train_config(tok)
    conf.update(top)
    conf["model_conf"].update(model_conf)
    path = tmp_path / "train_with.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    return SpeechLLMTask.build_model(args)


SRC = torch.tensor([[50, 51, -1, -1], [52, 53, 54, 55], [56, -1, -1, -1]])
SRC_LENS = torch.tensor([2, 4, 1])


def test_ctc_target_src_text_trains_ctc_on_the_source(tmp_path, tiny_tokenizer):
    model = _build(tmp_path, tiny_tokenizer, ctc_target="src_text").eval()
    speech, lens = _speech()
    with torch.no_grad():
        _, stats, _ = model(speech, lens, TEXT, TEXT_LENS, src_text=SRC, src_text_lengths=SRC_LENS)
        enc, enc_lens = model.encode_batch(speech, lens)
        on_src = model.compressor.aux_loss(enc, enc_lens, SRC, SRC_LENS)
        on_text = model.compressor.aux_loss(enc, enc_lens, TEXT, TEXT_LENS)
    assert torch.allclose(stats["loss_ctc"], on_src)
    assert not torch.allclose(on_src, on_text)
    with pytest.raises(ValueError, match="batch has no 'src_text'"):
        model(speech, lens, TEXT, TEXT_LENS)
    bad = SRC.clone()
    bad[1, 2] = 10**6
    with pytest.raises(ValueError, match="u2: text token id 1000000"):
        model(speech, lens, TEXT, TEXT_LENS, src_text=bad, src_text_lengths=SRC_LENS,
              utt_id=["u1", "u2", "u3"])


def test_bad_ctc_target(tmp_path, tiny_tokenizer):
    with pytest.raises(ValueError, match="ctc_target='source'"):
        _build(tmp_path, tiny_tokenizer, ctc_target="source")


def test_lang_field_fills_the_training_prompt_per_utterance(tmp_path, tiny_tokenizer):
    from espnet_speechllm.asr.prompt_fields import encode_field

    model = _build(tmp_path, tiny_tokenizer, prompt=["{lang} AUDIO:"], eval_prompt="AUDIO:")
    langs = ["THE", "TRANSCRIBE THE", "THE"]
    codes = torch.nn.utils.rnn.pad_sequence(
        [torch.from_numpy(encode_field(x)) for x in langs], batch_first=True, padding_value=-1
    )
    lang_lens = torch.tensor([len(x) for x in langs])
    speech, lens = _speech()
    seen = []
    ids = model.prompt.ids
    model.prompt.ids = lambda p: seen.append(p) or ids(p)
    with torch.no_grad():
        model.train()(speech, lens, TEXT, TEXT_LENS, lang=codes, lang_lengths=lang_lens)
        assert seen == ["THE AUDIO:", "TRANSCRIBE THE AUDIO:", "THE AUDIO:"]
        seen.clear()
        model.eval()(speech, lens, TEXT, TEXT_LENS, lang=codes, lang_lengths=lang_lens)
        assert seen == ["AUDIO:"] * 3
        with pytest.raises(ValueError, match="u1: prompt '{lang} AUDIO:' needs the field"):
            model.train()(speech, lens, TEXT, TEXT_LENS, utt_id=["u1", "u2", "u3"])


def test_encoder_autocast_bf16_is_close_to_fp32_and_trains(tmp_path, tiny_tokenizer, native_bf16):
    native_bf16(True)  # autocast runs on any CPU (emulated where bf16 is not native: slower)
    ref = _build(tmp_path, tiny_tokenizer).eval()
    amp = _build(tmp_path, tiny_tokenizer, encoder_autocast="bfloat16").eval()
    amp.load_state_dict(ref.state_dict())
    speech, lens = _speech()
    with torch.no_grad():  # fresh features for each: utterance_mvn normalises in place
        e32, l32 = ref.encode_batch(speech, lens)
        e16, l16 = amp.encode_batch(speech, lens)
    assert e16.dtype == torch.float32 and torch.equal(l16, l32)
    assert torch.isfinite(e16).all()
    # bf16 keeps 8 mantissa bits: close, not equal (valid frames; padding is arbitrary)
    valid = torch.arange(e32.size(1))[None, :] < l32[:, None]
    a, b = e16[valid], e32[valid]
    assert not torch.equal(a, b)
    assert (a - b).norm() / b.norm() < 0.05
    amp.train()
    loss, _, _ = amp(speech, lens, TEXT, TEXT_LENS)
    loss.backward()
    grads = [p.grad for p in amp.encoder.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_bad_encoder_autocast(tmp_path, tiny_tokenizer):
    with pytest.raises(ValueError, match=r"model_conf.encoder_autocast='fp8'"):
        _build(tmp_path, tiny_tokenizer, encoder_autocast="fp8")


def test_encoder_autocast_falls_back_to_fp32_without_native_kernels(tmp_path, tiny_tokenizer, native_bf16, caplog):
    native_bf16(False)
    ref = _build(tmp_path, tiny_tokenizer).eval()
    amp = _build(tmp_path, tiny_tokenizer, encoder_autocast="bfloat16").eval()
    amp.load_state_dict(ref.state_dict())
    speech, lens = _speech()
    with torch.no_grad():
        e32, _ = ref.encode_batch(speech, lens)
        e16, _ = amp.encode_batch(speech, lens)
    assert torch.equal(e16, e32)
    assert "model_conf.encoder_autocast: this CPU has no native torch.bfloat16; running fp32" in caplog.text
