"""Speech2TextLLMStreaming: partials from the KV cache, the final pass, reset, refusals."""

import pytest

from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM
from espnet_speechllm.bin.speech2text_llm_streaming import Speech2TextLLMStreaming

OPTIONS = {
    "greedy": dict(min_new_tokens=2),
    "beam_ctc": dict(beam_size=2, nbest=2, ctc_weight=0.5, min_new_tokens=2),
}


def _pair(exp, **kw):
    files = (exp / "config.yaml", exp / "model.pth")
    return Speech2TextLLM(*files, **kw), Speech2TextLLMStreaming(*files, **kw)


@pytest.fixture(scope="module", params=list(OPTIONS))
def pair(request, streaming_exp):
    return _pair(streaming_exp, **OPTIONS[request.param])


def _ids(hyps):
    return [h.token_ids for h in hyps]


def test_one_chunk_final_equals_offline(pair, an4_wavs):
    offline, online = pair
    for key, wav in an4_wavs.items():
        assert _ids(online(wav, is_final=True)) == _ids(offline(wav)), key


def test_chunked_final_equals_offline(pair, an4_wavs):
    offline, online = pair
    for key, wav in list(an4_wavs.items())[:4]:
        final, partials = online.decode_chunked(wav, 320)
        assert partials, key
        assert _ids(final) == _ids(offline(wav)), key


@pytest.mark.parametrize("unstable", [0, 2])
def test_partials_revise_only_their_tail(streaming_exp, an4_wavs, unstable):
    files = (streaming_exp / "config.yaml", streaming_exp / "model.pth")
    online = Speech2TextLLMStreaming(*files, unstable_tokens=unstable, min_new_tokens=2)
    wav = max(an4_wavs.values(), key=len)
    step = online.chunk_samples(160)
    seen = []
    for start in range(0, len(wav) - step, step):
        hyps = online(wav[start : start + step])
        if not hyps:
            assert not seen  # nothing heard yet comes only before the first partial
            continue
        assert len(hyps) == 1
        ids = hyps[0].token_ids
        if seen:
            keep = max(0, len(seen[-1]) - unstable)
            assert ids[:keep] == seen[-1][:keep], (seen[-1], ids)
        seen.append(ids)
    assert len(seen) >= 3
    last = online(wav[start + step :], is_final=True)
    assert online.n_samples == 0  # reset after the final call
    final, _ = online.decode_chunked(wav, 160)
    assert _ids(final) == _ids(last)  # the final equals the is_final=True call's result


def test_reset_forgets_the_utterance(streaming_exp, an4_wavs):
    offline, online = _pair(streaming_exp, min_new_tokens=2)
    a, b = list(an4_wavs.values())[:2]
    online(a[:8000])
    assert online.n_samples == 8000
    online.reset()
    assert online.n_samples == 0
    assert _ids(online(b, is_final=True)) == _ids(offline(b))


def test_non_streaming_encoder_is_refused(offline_exp):
    with pytest.raises(ValueError, match="encoder: ConformerEncoder is not streaming-capable.*contextual_block_conformer"):
        Speech2TextLLMStreaming(offline_exp / "config.yaml", offline_exp / "model.pth")


def test_utterance_mvn_is_refused(tmp_path, tiny_tokenizer):
    from streaming.conftest import built_exp, streaming_config

    conf = streaming_config(tiny_tokenizer)
    conf["normalize"] = "utterance_mvn"
    exp = built_exp(tmp_path / "exp", conf)
    with pytest.raises(ValueError, match="normalize: utterance_mvn"):
        Speech2TextLLMStreaming(exp / "config.yaml", exp / "model.pth")


def test_prompt_after_the_audio(tmp_path, tiny_tokenizer, an4_wavs):
    """``[pre | audio | post]``: the cache holds pre + audio, post is run with each hypothesis."""
    from streaming.conftest import built_exp, streaming_config

    conf = streaming_config(tiny_tokenizer)
    conf["model_conf"] = dict(conf["model_conf"], prompt_template="{prompt}{audio} TRANSCRIBE THE AUDIO")
    exp = built_exp(tmp_path / "exp", conf)
    offline, online = _pair(exp, min_new_tokens=2)
    assert len(online.prompts([{}])[0][1]) >= 2  # a real post-audio prompt
    for key, wav in list(an4_wavs.items())[:3]:
        final, _ = online.decode_chunked(wav, 640)
        assert _ids(final) == _ids(offline(wav)), key
