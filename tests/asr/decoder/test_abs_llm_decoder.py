"""HFLLMDecoder against the decoder-slot contract."""

import inspect

import pytest
import torch

from espnet_speechllm.asr.decoder.abs_llm_decoder import AbsLLMDecoder
from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from tiny import TINY_LLAMA

CONTRACT = ("eos", "vocab_size", "context_length", "input_embeddings", "output_size",
            "embed", "forward", "generate")  # fmt: skip


def test_the_contract_is_what_it_documents():
    assert set(AbsLLMDecoder.__abstractmethods__) == set(CONTRACT)

    class Partial(AbsLLMDecoder):
        def forward(self, hs_pad, hlens, ys_in_pad, ys_in_lens):
            return hs_pad, hlens

    with pytest.raises(TypeError, match="abstract"):
        Partial()


@pytest.mark.parametrize("mode", ["full", "frozen", "lora"])
def test_hf_llm_decoder_conforms(tiny_tokenizer, mode):
    torch.manual_seed(0)
    dec = HFLLMDecoder(config=dict(TINY_LLAMA), tokenizer_name_or_path=str(tiny_tokenizer),
                       mode=mode).eval()  # fmt: skip
    assert isinstance(dec, AbsLLMDecoder) and not inspect.isabstract(HFLLMDecoder)
    assert dec.eos == TINY_LLAMA["eos_token_id"] == dec.tokenizer.eos_token_id
    assert dec.vocab_size == TINY_LLAMA["vocab_size"] >= len(dec.tokenizer)
    assert dec.context_length == TINY_LLAMA["max_position_embeddings"]
    assert dec.output_size() == TINY_LLAMA["hidden_size"]
    table = dec.input_embeddings
    assert table is dec.causal_lm.get_input_embeddings()
    assert table.weight.shape == (dec.vocab_size, dec.output_size())
    ids = torch.tensor([[5, -1, 7]])
    emb = dec.embed(ids)
    assert emb.shape == (1, 3, dec.output_size())
    assert torch.equal(emb[0, 1], table.weight[0])  # padding embeds as id 0
    assert torch.equal(emb[0, 2], table.weight[7])
    hs, hl = torch.randn(2, 4, dec.output_size()), torch.tensor([4, 2])
    logits, lens = dec(hs, hl, torch.tensor([[5, 6], [7, -1]]), torch.tensor([2, 1]))
    assert logits.shape == (2, 3, dec.vocab_size) and lens.tolist() == [3, 2]
    hyps = dec.generate(hs, hl, num_beams=2, nbest=2, max_new_tokens=3)
    assert [len(h) for h in hyps] == [2, 2]
    for ids_, score in (h for nbest in hyps for h in nbest):
        assert len(ids_) <= 3 and dec.eos not in ids_ and isinstance(score, float)
