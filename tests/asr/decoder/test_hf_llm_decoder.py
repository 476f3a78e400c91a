import pytest
import torch

from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from tiny import TINY_LLAMA

B, P, D = 3, 7, TINY_LLAMA["hidden_size"]


def _decoder(tok, **kw) -> HFLLMDecoder:
    torch.manual_seed(0)
    kw.setdefault("lora_conf", dict(r=4, init_lora_weights=False))
    return HFLLMDecoder(config=dict(TINY_LLAMA), tokenizer_name_or_path=str(tok), **kw).eval()


def _batch():
    torch.manual_seed(1)
    hs = torch.randn(B, P, D)
    hl = torch.tensor([7, 4, 5])
    ys = torch.tensor([[5, 6, 7], [8, -1, -1], [9, 10, -1]])
    yl = torch.tensor([3, 1, 2])
    return hs, hl, ys, yl


MODES = [(m, a) for m in ("full", "frozen", "lora") for a in ("causal", "noncausal")]


@pytest.mark.parametrize("mode,attn", MODES)
def test_forward_batch_equals_single(tiny_tokenizer, mode, attn):
    dec = _decoder(tiny_tokenizer, mode=mode, prefix_attention=attn)
    hs, hl, ys, yl = _batch()
    logits, olens = dec(hs, hl, ys, yl)
    assert logits.shape == (B, 4, TINY_LLAMA["vocab_size"])
    assert olens.tolist() == [4, 2, 3]
    for b in range(B):
        one, _ = dec(hs[b : b + 1, : hl[b]], hl[b : b + 1], ys[b : b + 1, : yl[b]], yl[b : b + 1])
        torch.testing.assert_close(one[0], logits[b, : yl[b] + 1], atol=1e-5, rtol=1e-4)


def test_noncausal_prefix_sees_the_future(tiny_tokenizer):
    """Changing a late prefix frame changes early-position outputs only if non-causal."""
    hs, hl, ys, yl = _batch()
    hs2 = hs.clone()
    hs2[0, 5] += 1.0  # frame 5 of 7: frame 6 is the causal last step either way
    for attn, should_change in (("causal", False), ("noncausal", True)):
        dec = _decoder(tiny_tokenizer, mode="full", prefix_attention=attn)
        backbone = dec.causal_lm.base_model
        outs = []
        for h in (hs, hs2):
            seq = h[:1]
            from espnet_speechllm.asr.layers.sequence_packing import padding_mask

            mask = dec._mask(padding_mask(hl[:1], P), hl[:1], seq.dtype)
            outs.append(backbone(inputs_embeds=seq, attention_mask=mask).last_hidden_state[0, 2])
        assert (not torch.allclose(outs[0], outs[1])) == should_change, attn


@pytest.mark.parametrize("mode,attn", MODES)
@pytest.mark.parametrize("beams,nbest", [(1, 1), (3, 2)])
def test_generate_batch_equals_single(tiny_tokenizer, mode, attn, beams, nbest):
    dec = _decoder(tiny_tokenizer, mode=mode, prefix_attention=attn)
    hs, hl, _, _ = _batch()
    batch = dec.generate(hs, hl, num_beams=beams, nbest=nbest, max_new_tokens=5)
    assert len(batch) == B and all(len(h) == nbest for h in batch)
    for b in range(B):
        one = dec.generate(hs[b : b + 1, : hl[b]], hl[b : b + 1], num_beams=beams, nbest=nbest, max_new_tokens=5)
        assert [ids for ids, _ in one[0]] == [ids for ids, _ in batch[b]]
        assert [s for _, s in one[0]] == pytest.approx([s for _, s in batch[b]], abs=1e-4)


@pytest.mark.parametrize("attn", ["causal", "noncausal"])
def test_greedy_matches_teacher_forcing(tiny_tokenizer, attn):
    """KV-cached generation (with the pre-filled non-causal prefix) == full recompute."""
    dec = _decoder(tiny_tokenizer, mode="full", prefix_attention=attn)
    hs, hl, _, _ = _batch()
    for b, [(ids, _)] in enumerate(dec.generate(hs, hl, max_new_tokens=6)):
        logits, _ = dec(hs[b : b + 1], hl[b : b + 1], torch.tensor([ids]), torch.tensor([len(ids)]))
        best = logits[0].argmax(-1).tolist()
        assert best[: len(ids)] == ids
        if len(ids) < 6:
            assert best[len(ids)] == dec.eos


class _EosAtStep:
    """Forces eos for batch row 0 after ``step`` generated tokens (with
    inputs_embeds, ``input_ids`` holds the generated tokens only)."""

    def __init__(self, step: int, eos: int):
        self.at, self.eos = step, eos

    def __call__(self, input_ids, scores):
        if input_ids.size(1) == self.at:
            scores = scores.clone()
            scores[0] = float("-inf")
            scores[0, self.eos] = 0.0
        return scores


def test_greedy_score_ends_at_eos_in_a_batch(tiny_tokenizer):
    """A sequence that stops early scores the same as alone (pad steps excluded)."""
    from transformers import LogitsProcessorList

    dec = _decoder(tiny_tokenizer, mode="full")
    hs, hl, _, _ = _batch()
    stop = LogitsProcessorList([_EosAtStep(2, dec.eos)])
    batch = dec.generate(hs, hl, max_new_tokens=6, logits_processor=stop)
    assert len(batch[0][0][0]) == 2 and len(batch[1][0][0]) > 2
    for b in range(B):
        n = int(hl[b])
        one = dec.generate(hs[b : b + 1, :n], hl[b : b + 1], max_new_tokens=6,
                           logits_processor=stop if b == 0 else None)
        assert one[0][0][0] == batch[b][0][0]
        assert one[0][0][1] == pytest.approx(batch[b][0][1], abs=1e-4)


@pytest.mark.parametrize("mode", ["frozen", "lora"])
def test_state_dict_holds_only_trained_parts(tiny_tokenizer, mode):
    dec = _decoder(tiny_tokenizer, mode=mode)
    sd = dec.state_dict()
    trained = {n for n, p in dec.named_parameters() if p.requires_grad}
    assert set(sd) == trained
    if mode == "lora":
        assert trained and all("lora_" in n for n in trained)
    fresh = _decoder(tiny_tokenizer, mode=mode)
    with torch.no_grad():
        for n, p in dec.named_parameters():
            if p.requires_grad:
                p.add_(1.0)
    fresh.load_state_dict(dec.state_dict())  # strict: frozen keys are not "missing"
    for (n, p), (_, q) in zip(dec.named_parameters(), fresh.named_parameters()):
        assert torch.equal(p, q), n


def test_full_mode_saves_everything(tiny_tokenizer):
    dec = _decoder(tiny_tokenizer, mode="full")
    assert set(dec.state_dict()) >= {n for n, _ in dec.named_parameters()}


def test_one_copy_of_the_llm_with_lora(tiny_tokenizer):
    dec = _decoder(tiny_tokenizer, mode="lora")
    n_base = sum(p.numel() for n, p in dec.named_parameters() if "lora_" not in n)
    ref = _decoder(tiny_tokenizer, mode="full")
    assert n_base == sum(p.numel() for p in ref.parameters())


def test_pretrained_dir_loads(tiny_llm):
    dec = HFLLMDecoder(model_name_or_path=str(tiny_llm), mode="frozen")
    assert dec.output_size() == TINY_LLAMA["hidden_size"]
    assert not any(p.requires_grad for p in dec.parameters())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(mode="half"), "decoder_conf.mode"),
        (dict(prefix_attention="bidir"), "decoder_conf.prefix_attention"),
        (dict(model_name_or_path="x"), "exactly one"),
    ],
)
def test_bad_config(tiny_tokenizer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        HFLLMDecoder(config=dict(TINY_LLAMA), tokenizer_name_or_path=str(tiny_tokenizer), **kwargs)


def test_wrong_llm_path_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="decoder_conf.model_name_or_path='.*nope'"):
        HFLLMDecoder(model_name_or_path=str(tmp_path / "nope"))


def test_tokenizer_larger_than_embeddings(tiny_tokenizer):
    cfg = dict(TINY_LLAMA, vocab_size=100)
    with pytest.raises(ValueError, match="do not belong together"):
        HFLLMDecoder(config=cfg, tokenizer_name_or_path=str(tiny_tokenizer))


def test_empty_prefix_rejected(tiny_tokenizer):
    dec = _decoder(tiny_tokenizer, mode="full")
    hs, hl, ys, yl = _batch()
    with pytest.raises(ValueError, match="prefix"):
        dec(hs, torch.tensor([7, 0, 5]), ys, yl)


def test_random_init_takes_architecture_not_weights(tiny_llm):
    """Decoder-only from scratch: the LLM dir's config and tokenizer, random weights."""
    from transformers import AutoModelForCausalLM

    pre = AutoModelForCausalLM.from_pretrained(str(tiny_llm)).state_dict()
    torch.manual_seed(3)
    dec = HFLLMDecoder(model_name_or_path=str(tiny_llm), mode="full", random_init=True,
                       config=dict(num_hidden_layers=1))
    assert dec.llm.config.num_hidden_layers == 1
    assert dec.output_size() == TINY_LLAMA["hidden_size"] and dec.vocab_size == TINY_LLAMA["vocab_size"]
    emb = dec.llm.get_input_embeddings().weight
    assert emb.shape == pre["model.embed_tokens.weight"].shape
    assert not torch.equal(emb, pre["model.embed_tokens.weight"])
    assert len(dec.tokenizer) <= dec.vocab_size and dec.eos == TINY_LLAMA["eos_token_id"]
    with pytest.raises(ValueError, match="random_init=true needs model_name_or_path"):
        HFLLMDecoder(model_name_or_path=str(tiny_llm), mode="frozen", random_init=True)


@pytest.mark.parametrize("attn", ["causal", "noncausal"])
@pytest.mark.parametrize("beams,nbest", [(1, 1), (3, 2)])
def test_per_utterance_caps_in_one_call_equal_separate_calls(tiny_tokenizer, attn, beams, nbest):
    """One generate with caps [2, 5, 3] == each utterance alone with its cap; eos is
    suppressed, so every hypothesis runs to its own cap."""
    dec = _decoder(tiny_tokenizer, mode="full", prefix_attention=attn)
    hs, hl, _, _ = _batch()
    caps = [2, 5, 3]
    kw = dict(num_beams=beams, nbest=nbest, min_new_tokens=100)
    batch = dec.generate(hs, hl, max_new_tokens=caps, **kw)
    for b in range(B):
        alone = dec.generate(hs[b : b + 1, : hl[b]], hl[b : b + 1], max_new_tokens=caps[b], **kw)
        assert [len(ids) for ids, _ in batch[b]] == [caps[b]] * nbest
        assert [ids for ids, _ in batch[b]] == [ids for ids, _ in alone[0]]
        if beams == 1:  # the forced eos scores 0: the same score as stopping at the cap
            assert batch[b][0][1] == pytest.approx(alone[0][0][1], abs=1e-4)


def test_per_utterance_caps_must_match_the_batch(tiny_tokenizer):
    dec = _decoder(tiny_tokenizer, mode="full")
    hs, hl, _, _ = _batch()
    with pytest.raises(ValueError, match="2 length caps for 3 utterances"):
        dec.generate(hs, hl, max_new_tokens=[2, 3])


def test_one_greedy_cap_runs_without_the_cap_processor(tiny_tokenizer, monkeypatch):
    """Batch 1 (one cap): HF's own max_new_tokens, no forced-eos step, no per-step
    processor; ids and score equal those of the same utterance in a batch of caps."""
    dec = _decoder(tiny_tokenizer, mode="full")
    hs, hl, _, _ = _batch()
    caps, kw = [2, 5, 3], dict(min_new_tokens=100)  # eos suppressed: each runs to its cap
    batch = dec.generate(hs, hl, max_new_tokens=caps, **kw)
    seen = []
    hf_generate = dec.causal_lm.generate

    def spy(**kwargs):
        seen.append((kwargs["max_new_tokens"], kwargs.get("logits_processor")))
        return hf_generate(**kwargs)

    monkeypatch.setattr(dec.causal_lm, "generate", spy)
    for b in range(B):
        alone = dec.generate(hs[b : b + 1, : hl[b]], hl[b : b + 1], max_new_tokens=[caps[b]], **kw)
        assert seen[-1] == (caps[b], None)
        assert alone[0][0][0] == batch[b][0][0] and len(alone[0][0][0]) == caps[b]
        assert alone[0][0][1] == pytest.approx(batch[b][0][1], abs=1e-4)
    dec.generate(hs[:1], hl[:1], num_beams=2, max_new_tokens=[3], **kw)
    assert seen[-1][0] == 4 and seen[-1][1] is not None  # beams: cap + the forced eos


@pytest.mark.parametrize("attn", ["causal", "noncausal"])
def test_next_token_logits_are_generates_first_step(tiny_tokenizer, attn):
    dec = _decoder(tiny_tokenizer, mode="full", prefix_attention=attn)
    hs, hl, _, _ = _batch()
    first = []

    def record(input_ids, scores):
        if not first:
            first.append(torch.log_softmax(scores.float(), -1))
        return scores

    dec.generate(hs, hl, max_new_tokens=2, logits_processor=[record])
    logp = torch.log_softmax(dec.next_token_logits(hs, hl).float(), -1)
    assert logp.shape == (B, TINY_LLAMA["vocab_size"])
    torch.testing.assert_close(logp, first[0], atol=1e-4, rtol=1e-4)  # right vs left padded
