import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from espnet_speechllm.asr.layers.sequence_packing import padding_mask
from espnet_speechllm.asr.losses.distill_loss import response_kl
from espnet_speechllm.asr.losses.teacher_pass import pad_ids, teacher_logits
from tiny import TINY_LLAMA

PREFIXES = [[1, 40, 41, 42, 43], [1, 50, 51]]
TARGETS = [[60, 61, 62], [70]]


def _decoder(tok, mode):
    torch.manual_seed(0)
    # init_lora_weights=False: random adapters, so adapters on != adapters off.
    return HFLLMDecoder(
        config=dict(TINY_LLAMA), tokenizer_name_or_path=str(tok), mode=mode,
        lora_conf=dict(r=4, init_lora_weights=False, lora_dropout=0.5),
    ).train()


def _base_llm(dec):
    """The pretrained weights in a separate plain HF model (the reference, not the code)."""
    cfg = dict(TINY_LLAMA)
    ref = AutoModelForCausalLM.from_config(AutoConfig.for_model(cfg.pop("model_type"), **cfg))
    state = {
        k.replace(".base_layer", ""): v
        for k, v in dec.causal_lm.state_dict().items()
        if "lora_" not in k
    }
    ref.load_state_dict(state, strict=True)
    return ref.eval()


def _inputs():
    prefix, prefix_lens = pad_ids(PREFIXES)
    target, target_lens = pad_ids(TARGETS)
    return prefix, prefix_lens, target, target_lens


def test_pad_ids():
    ids, lens = pad_ids([[3, 4], [5]])
    assert ids.tolist() == [[3, 4], [5, -1]] and lens.tolist() == [2, 1]


def test_teacher_is_the_base_llm_with_adapters_off(tiny_tokenizer):
    dec = _decoder(tiny_tokenizer, "lora")
    ref = _base_llm(dec)
    logits, lens = teacher_logits(dec, *_inputs())
    assert lens.tolist() == [4, 2] and logits.grad_fn is None
    for b, (pre, tgt) in enumerate(zip(PREFIXES, TARGETS)):
        full = ref(input_ids=torch.tensor([pre + tgt])).logits[0]
        want = full[len(pre) - 1 : len(pre) + len(tgt)]  # predicts tgt + [eos]
        torch.testing.assert_close(logits[b, : len(tgt) + 1], want, atol=1e-5, rtol=1e-4)
    # The adapters are back on after the pass, and they change the logits.
    dec.eval()
    student, _ = dec(dec.embed(_inputs()[0]), *_inputs()[1:])
    assert not torch.allclose(student[0, :4], logits[0, :4], atol=1e-3)


@pytest.mark.parametrize("mode", ["lora", "frozen"])
def test_no_copy_no_gradient_and_modes_restored(tiny_tokenizer, mode):
    dec = _decoder(tiny_tokenizer, mode)
    params = {id(p) for p in dec.parameters()}
    count = sum(p.numel() for p in dec.parameters())
    n_modules = len(list(dec.modules()))
    prefix, prefix_lens, target, target_lens = _inputs()
    teacher, _ = teacher_logits(dec, prefix, prefix_lens, target, target_lens)
    assert {id(p) for p in dec.parameters()} == params
    assert sum(p.numel() for p in dec.parameters()) == count
    assert len(list(dec.modules())) == n_modules
    assert all(m.training for m in dec.modules())
    assert not teacher.requires_grad
    # The student: the same text prefix as embeddings that train (the audio's place).
    emb = dec.embed(prefix).detach().requires_grad_()
    student, _ = dec.eval()(emb, prefix_lens, target, target_lens)
    mask = padding_mask(target_lens + 1, student.size(1)).bool()
    kl = response_kl(student, teacher, mask, 2.0)
    kl.backward()
    assert emb.grad is not None and emb.grad.abs().sum() > 0
    grads = {n for n, p in dec.named_parameters() if p.grad is not None}
    assert all("lora_" in n for n in grads), grads
    if mode == "frozen":
        # Same LLM, same input: the teacher is the student; KL 0 (inputs identical).
        assert grads == set() and float(kl.detach()) < 1e-6
    else:
        assert grads and float(kl.detach()) > 0


def test_full_mode_is_refused(tiny_tokenizer):
    dec = _decoder(tiny_tokenizer, "full")
    with pytest.raises(ValueError, match="decoder_conf.mode frozen or lora"):
        teacher_logits(dec, *_inputs())
