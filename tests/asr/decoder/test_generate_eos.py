import torch

from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from tiny import TINY_LLAMA


def test_generate_stops_at_the_given_eos(tiny_tokenizer):
    """``generate(eos=t)`` (a chat model's end of turn) ends and trims hypotheses at t."""
    torch.manual_seed(0)
    dec = HFLLMDecoder(
        config=dict(TINY_LLAMA, initializer_range=0.5), tokenizer_name_or_path=str(tiny_tokenizer)
    ).eval()
    prefix = dec.embed(torch.tensor([[1, 40, 41, 42]]))
    lens = torch.tensor([4])
    (ids, _), = dec.generate(prefix, lens, max_new_tokens=8)[0]
    assert len(ids) >= 3 and dec.eos not in ids
    stop = ids[2]
    (cut, _), = dec.generate(prefix, lens, max_new_tokens=8, eos=stop)[0]
    assert cut == ids[: ids.index(stop)]
    # Per-utterance caps (RowLengthCapProcessor) force the given eos too.
    (capped, _), = dec.generate(prefix, lens, max_new_tokens=[1], eos=stop)[0]
    assert capped == ids[:1]
