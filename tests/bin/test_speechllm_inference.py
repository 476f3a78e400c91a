import logging

import numpy as np
import pytest
import soundfile
import torch

from espnet_speechllm.bin.speechllm_inference import BadUtteranceError, Hypothesis, Speech2TextLLM, main

EMPTY = ("", [], [], 0.0)
# The tiny conformer's conv2d input layer needs 7 frames; frames = samples // 160 + 1.
TOO_SHORT = 959


def _scp(path):
    rows = [line.split(maxsplit=1) for line in path.read_text().splitlines()]
    return {key: value for key, value in rows}


def _rows(path):
    """``key value`` lines in file order; an empty value is ''."""
    rows = [line.split(" ", 1) for line in path.read_text().splitlines()]
    return {r[0]: r[1] if len(r) > 1 else "" for r in rows}


@pytest.fixture(scope="module")
def wavs(an4_dirs):
    """Test utterances first, then the (shorter) train ones: 0.7 s to 2.9 s."""
    out = {}
    for split in ("test", "train"):
        for key, path in _scp(an4_dirs / split / "wav.scp").items():
            wav, fs = soundfile.read(path, dtype="float32")
            assert fs == 16000
            out[key] = wav
    return out


def _s2t(exp, **kw) -> Speech2TextLLM:
    return Speech2TextLLM(exp / "config.yaml", exp / "valid.acc.ave.pth", **kw)


@pytest.fixture(scope="module")
def greedy(trained_exp):
    # The 2-epoch model ends at once; two forced tokens make the ids worth comparing.
    return _s2t(trained_exp, min_new_tokens=2)


@pytest.fixture(scope="module")
def greedy_to_cap(trained_exp):
    """Never stops before its length cap, which differs per utterance."""
    return _s2t(trained_exp, min_new_tokens=1000)


@pytest.fixture(scope="module")
def beam(trained_exp):
    return _s2t(trained_exp, beam_size=3, nbest=2)


@pytest.fixture(scope="module")
def joint_ctc(trained_exp):
    """Joint CTC/LLM beam search with the compressor's CTC head."""
    return _s2t(trained_exp, beam_size=2, ctc_weight=0.5, min_new_tokens=2)


def _assert_same(a, b):
    assert [(h[0], h[1], h[2]) for h in a] == [(h[0], h[1], h[2]) for h in b]
    assert [h[3] for h in a] == pytest.approx([h[3] for h in b], abs=1e-4)


@pytest.mark.parametrize(
    "decoder",
    [
        "greedy",
        pytest.param("greedy_to_cap", marks=pytest.mark.filterwarnings("ignore:Unfeasible length")),
        "beam",
        "joint_ctc",
    ],
)
def test_batch_equals_one_by_one(request, wavs, decoder):
    s2t = request.getfixturevalue(decoder)
    keys = list(wavs)
    batch = s2t.batch([wavs[k] for k in keys], keys)
    assert len(batch) == len(keys)
    for key, hyps in zip(keys, batch):
        assert len(hyps) == s2t.nbest
        assert all(ids for _, _, ids, _ in hyps)  # not trivially equal empties
        _assert_same(hyps, s2t.batch([wavs[key]], [key])[0])
    if decoder == "greedy_to_cap":
        caps = [int(np.ceil(10.0 * len(wavs[k]) / 16000)) + 4 for k in keys]
        assert [len(hyps[0][2]) for hyps in batch] == caps


def test_call_returns_text_tokens_ids_score(beam, wavs):
    hyps = beam(torch.as_tensor(wavs["fcaw-cen8-b"]))
    assert len(hyps) == 2
    tok = beam.tokenizer
    for text, tokens, ids, score in hyps:
        assert isinstance(text, str) and isinstance(score, float)
        assert all(isinstance(i, int) for i in ids) and beam.model.decoder.eos not in ids
        assert tokens == tok.convert_ids_to_tokens(ids)
        assert text == tok.decode(ids, skip_special_tokens=True).strip()
    assert hyps[0][3] >= hyps[1][3]
    assert hyps[0][2] != hyps[1][2]


def test_hypotheses_are_named_and_unpack_as_tuples(beam, wavs):
    hyps = beam(wavs["fcaw-cen8-b"])
    for hyp in hyps:
        assert isinstance(hyp, Hypothesis)
        text, tokens, ids, score = hyp
        assert (hyp.text, hyp.tokens, hyp.token_ids, hyp.score) == (text, tokens, ids, score)
    assert Hypothesis("", [], [], 0.0) == EMPTY


def test_token_cap_follows_the_audio_length(greedy):
    assert greedy.token_cap(16000) == 10 + 4
    assert greedy.token_cap(16001) == 11 + 4
    assert greedy.token_cap(10**9) == greedy.max_new_tokens


def test_greedy_score_is_the_log_probability_of_the_hypothesis(greedy, wavs):
    """Teacher-forced log p(ids + eos | eval prompt + audio), with eos barred from
    the first min_new_tokens=2 steps as generate() does."""
    model = greedy.model
    wav = torch.as_tensor(wavs["mmxg-cen8-b"])[None]
    [(_, _, ids, score)] = greedy(wav[0])
    with torch.no_grad():
        audio, audio_lens = model.encode(wav, torch.tensor([wav.size(1)]))
        prefix, prefix_lens = model.build_prefix(audio, audio_lens, train=False)
        ids_ = torch.tensor([ids], dtype=torch.long)
        logits, _ = model.decoder(prefix, prefix_lens, ids_, torch.tensor([len(ids)]))
    eos = model.decoder.eos
    logits = logits[0].clone()
    logits[:2, eos] = float("-inf")
    logp = logits.log_softmax(-1)
    cap = int(np.ceil(greedy.max_tokens_per_second * wav.size(1) / greedy.fs)) + 4
    assert 2 <= len(ids) < cap  # it stopped at eos
    target = ids + [eos]
    expected = float(logp[torch.arange(len(target)), torch.tensor(target)].sum())
    assert score == pytest.approx(expected, abs=1e-4)
    assert logp.argmax(-1).tolist() == target


def test_decoding_uses_the_eval_prompt(greedy, trained_exp):
    assert greedy.prompt == greedy.model.prompt.ids("Transcribe:")
    other = _s2t(trained_exp, prompt="Write it down:")
    assert other.prompt == other.model.prompt.ids("Write it down:") != greedy.prompt


@pytest.mark.parametrize("n", [0, 1, 399, 400, TOO_SHORT])
def test_short_audio_gives_an_empty_hypothesis(beam, wavs, n):
    assert beam.min_samples == TOO_SHORT + 1
    rng = np.random.default_rng(0)
    short = (0.1 * rng.standard_normal(n)).astype(np.float32)
    assert beam(short) == [EMPTY, EMPTY]
    long = wavs["fcaw-cen8-b"]
    batch = beam.batch([long, short, long[:TOO_SHORT + 1]], ["a", "b", "c"])
    assert batch[1] == [EMPTY, EMPTY]
    _assert_same(batch[0], beam(long))
    # One sample more than too short is decoded (as it is alone).
    _assert_same(batch[2], beam(long[:TOO_SHORT + 1]))
    assert batch[2][0][2] or batch[2][0][3] != 0.0


def _encoded_lengths(s2t, monkeypatch):
    """The sample counts the model's encoder is run on, from now on."""
    seen = []
    encode = s2t.model.encode_frames

    def spy(speech, speech_lengths):
        seen.extend(speech_lengths.tolist())
        return encode(speech, speech_lengths)

    monkeypatch.setattr(s2t.model, "encode_frames", spy)
    return seen


def test_prompt_and_audio_beyond_the_context_are_refused_before_encoding(greedy, wavs, monkeypatch):
    """A prompt that leaves room for a 1 s utterance but not for a 2.3 s one."""
    short, long = wavs["fcaw-cen8-b"][:16000], wavs["mmxg-cen8-b"]
    model = greedy.model
    need = {n: model.max_audio_positions(n) + greedy.token_cap(n) for n in (len(short), len(long))}
    assert need[len(long)] > need[len(short)]
    n_prompt = 512 - need[len(long)] + 1  # one position too many
    monkeypatch.setattr(greedy, "prompt", ([1] + [42] * (n_prompt - 1), []))
    assert greedy.batch([short], ["fcaw-cen8-b"])[0][0][2]
    seen = _encoded_lengths(greedy, monkeypatch)
    with pytest.raises(BadUtteranceError) as e:
        greedy.batch([short, long], ["fcaw-cen8-b", "mmxg-cen8-b"])
    assert seen == []  # refused before the encoder ran
    limit = greedy.max_seconds(n_prompt)
    assert len(short) / 16000 <= limit < len(long) / 16000
    assert e.value.key == "mmxg-cen8-b"
    assert str(e.value) == (
        f"mmxg-cen8-b: prompt ({n_prompt} positions) + {len(long) / 16000:.2f} s of audio (up to "
        f"{model.max_audio_positions(len(long))} positions) + {greedy.token_cap(len(long))} new "
        f"tokens can exceed the LLM context of 512; with this prompt the model takes at most "
        f"{limit:.2f} s of audio: split it (refused before encoding)"
    )
    # The limit is the last sample count that fits.
    n = round(limit * 16000)
    assert n_prompt + model.max_audio_positions(n) + greedy.token_cap(n) <= 512
    assert n_prompt + model.max_audio_positions(n + 1) + greedy.token_cap(n + 1) > 512


def test_ten_minutes_are_refused_before_the_encoder_runs(greedy, monkeypatch):
    seen = _encoded_lengths(greedy, monkeypatch)
    ten_min = np.zeros(10 * 60 * 16000, dtype=np.float32)
    with pytest.raises(BadUtteranceError, match="^long: prompt .* 600.00 s of audio .* at most "):
        greedy.batch([ten_min], ["long"])
    assert seen == []
    # The eval prompt's limit: the tiny LLM's 512 positions hold about 13 s.
    assert 10 < greedy.max_seconds(sum(map(len, greedy.prompt))) < 20


def test_other_rates_and_channels_decode_as_the_model_takes_them(greedy, wavs, caplog):
    from espnet_speechllm.utils.audio_input import resample

    wav = wavs["fcaw-cen8-b"]
    at_8k = resample(wav, 16000, 8000)
    with caplog.at_level(logging.WARNING):
        _assert_same(greedy(at_8k, fs=8000), greedy(resample(at_8k, 8000, 16000)))
    assert "8000 Hz audio resampled to the model's 16000 Hz" in caplog.text
    n = min(len(wav), len(wavs["mmxg-cen8-b"]))
    wav, other = wav[:n], wavs["mmxg-cen8-b"][:n]
    _assert_same(greedy(np.stack([wav, other], axis=1)), greedy((wav + other) / 2))
    _assert_same(greedy(torch.as_tensor(np.stack([wav, other]))), greedy((wav + other) / 2))
    strict = _s2t_like(greedy, resample=False)
    with pytest.raises(BadUtteranceError, match="^0: sampled at 8000 Hz"):
        strict(at_8k, fs=8000)


def _s2t_like(s2t, **kw):
    import copy

    other = copy.copy(s2t)
    for k, v in kw.items():
        setattr(other, k, v)
    return other


def test_non_finite_audio_is_refused_naming_the_utterance(greedy, wavs):
    bad = wavs["fcaw-cen8-b"].copy()
    bad[100] = np.nan
    with pytest.raises(BadUtteranceError, match="^b: 1 non-finite samples \\(NaN / inf\\), the first at sample 100"):
        greedy.batch([wavs["mmxg-cen8-b"], bad], ["a", "b"])


def test_hypotheses_hold_no_special_tokens(greedy, wavs, monkeypatch):
    """Whatever the LLM generates (NaN scores gave all-<pad> hypotheses), no special
    token reaches a hypothesis."""
    tok = greedy.tokenizer
    word = tok.encode("HELLO", add_special_tokens=False)
    pad, bos = tok.pad_token_id, tok.bos_token_id
    assert pad is not None and bos is not None
    fake = [[(word[:1] + [pad, bos] + word[1:] + [pad] * 3, -1.0)]]
    monkeypatch.setattr(greedy.model.decoder, "generate", lambda *a, **k: fake)
    [(text, tokens, ids, score)] = greedy(wavs["fcaw-cen8-b"])
    assert ids == word and tokens == tok.convert_ids_to_tokens(word) and text == "HELLO"
    assert not set(tokens) & set(tok.all_special_tokens) and score == -1.0


def test_a_hypothesis_with_newlines_is_one_line(greedy, wavs, monkeypatch):
    """A chat response with paragraphs ("A\n\nB") is one Kaldi text value ("A B"); the
    tokens and ids keep the newlines."""
    tok = greedy.tokenizer
    ids = tok.encode("HELLO\n\n WORLD\n", add_special_tokens=False)
    assert "\n" in tok.decode(ids)  # the tiny BPE can spell a newline
    monkeypatch.setattr(greedy.model.decoder, "generate", lambda *a, **k: [[(ids, -1.0)]])
    [(text, tokens, out_ids, _)] = greedy(wavs["fcaw-cen8-b"])
    assert text == "HELLO WORLD" and out_ids == ids and tokens == tok.convert_ids_to_tokens(ids)


def _write_scp(tmp_path, an4_dirs, extra):
    scp = dict(_scp(an4_dirs / "test" / "wav.scp"))
    for key, wav in extra.items():
        soundfile.write(tmp_path / f"{key}.wav", wav, 16000)
        scp[key] = str(tmp_path / f"{key}.wav")
    path = tmp_path / "wav.scp"
    path.write_text("".join(f"{k} {v}\n" for k, v in sorted(scp.items())))
    return path, sorted(scp)


def _inference_cmd(exp, scp, out, *extra):
    return [
        "--output_dir", str(out), "--data_path_and_name_and_type", f"{scp},speech,sound",
        "--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "valid.acc.ave.pth"),
        "--num_workers", "0", *extra,
    ]


def test_main_writes_nbest_recog(trained_exp, an4_dirs, beam, wavs, tmp_path):
    short = np.zeros(200, dtype=np.float32)
    scp, keys = _write_scp(tmp_path, an4_dirs, {"aaaa-short": short})
    out = tmp_path / "decode"
    main(_inference_cmd(trained_exp, scp, out, "--beam_size", "3", "--nbest", "2", "--batch_size", "2"))
    expected = {k: beam(wavs[k]) for k in keys if k in wavs}
    expected["aaaa-short"] = [EMPTY, EMPTY]
    for n in (1, 2):
        d = out / f"{n}best_recog"
        files = {name: _rows(d / name) for name in ("text", "token", "token_int", "score")}
        for name, rows in files.items():
            assert list(rows) == keys, (n, name)
        for key in keys:
            text, tokens, ids, score = expected[key][n - 1]
            assert files["text"][key] == text
            assert files["token"][key] == " ".join(tokens)
            assert files["token_int"][key] == " ".join(map(str, ids))
            assert float(files["score"][key]) == pytest.approx(score, abs=1e-4)
    assert not (out / "3best_recog").exists()


def test_main_context_overflow_names_the_key(trained_exp, an4_dirs, tmp_path):
    scp, _ = _write_scp(tmp_path, an4_dirs, {})
    cmd = _inference_cmd(trained_exp, scp, tmp_path / "decode", "--prompt", "TRANSCRIBE THE AUDIO " * 60)
    with pytest.raises(ValueError, match="^fcaw-cen8-b: prompt"):
        main(cmd)


def test_every_option_has_help_text():
    from espnet_speechllm.bin.speechllm_inference import get_parser

    parser = get_parser()
    bare = [a.option_strings[0] for a in parser._actions if a.option_strings and not a.help]
    assert bare == []
    text = parser.format_help()
    assert "Joint CTC/LLM decoding weight" in text and "Decode only the utterance ids" in text
