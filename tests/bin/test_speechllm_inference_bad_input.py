"""speechllm_inference over a wav.scp with bad entries: --on_bad_utt fail | skip."""

import numpy as np
import pytest
import soundfile

from espnet_speechllm.bin.speechllm_inference import BadUtteranceError, Speech2TextLLM, get_parser, main
from espnet_speechllm.utils.kaldi_io import read_map

EMPTY = ("", [], [], 0.0)
NAMES = ("text", "token", "token_int", "score")


def _cmd(exp, scp, out, *extra):
    return [
        "--output_dir", str(out), "--data_path_and_name_and_type", f"{scp},speech,sound",
        "--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "valid.acc.ave.pth"),
        "--num_workers", "0", "--min_new_tokens", "2", *extra,
    ]  # fmt: skip


def _rows(path):
    rows = [line.split(" ", 1) for line in path.read_text().splitlines()]
    return {r[0]: r[1] if len(r) > 1 else "" for r in rows}


@pytest.fixture(scope="module")
def greedy(trained_exp):
    return Speech2TextLLM(trained_exp / "config.yaml", trained_exp / "valid.acc.ave.pth", min_new_tokens=2)


@pytest.fixture(scope="module")
def good(an4_dirs):
    """The test set: {key: (path, samples)}."""
    scp = read_map(an4_dirs / "test" / "wav.scp")
    return {k: (v, soundfile.read(v, dtype="float32")[0]) for k, v in scp.items()}


def _scp(tmp_path, lines):
    path = tmp_path / "wav.scp"
    path.write_text("".join(f"{line}\n" for line in sorted(lines)))
    return path


def test_skip_decodes_the_others_and_lists_the_bad(trained_exp, greedy, good, tmp_path):
    from espnet_speechllm.utils.audio_input import resample

    key0, (_, wav) = next(iter(good.items()))
    w = tmp_path
    at_8k = resample(wav, 16000, 8000)
    soundfile.write(w / "8k.wav", at_8k, 8000, subtype="FLOAT")
    stereo = np.stack([wav, wav[::-1]], axis=1)
    soundfile.write(w / "st.wav", resample(stereo.T.copy(), 16000, 44100).T, 44100, subtype="FLOAT")
    (w / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    nan = wav.copy()
    nan[5] = np.nan
    soundfile.write(w / "nan.wav", nan, 16000, subtype="FLOAT")
    soundfile.write(w / "long.wav", np.zeros(10 * 60 * 16000, dtype=np.int16), 16000)
    lines = [f"{k} {p}" for k, (p, _) in good.items()] + [
        f"aaaa-8k {w}/8k.wav", f"aaab-stereo44k {w}/st.wav", f"bbbb-missing {w}/missing.wav",
        f"bbbc-corrupt {w}/corrupt.wav", f"bbbd-space x {w}/8k.wav", f"bbbe-nan {w}/nan.wav",
        f"bbbf-long {w}/long.wav",
    ]  # fmt: skip
    scp = _scp(tmp_path, lines)
    out = tmp_path / "decode"
    main(_cmd(trained_exp, scp, out, "--batch_size", "3", "--on_bad_utt", "skip"))

    expected = {k: greedy(x)[0] for k, (_, x) in good.items()}
    expected["aaaa-8k"] = greedy(soundfile.read(w / "8k.wav")[0], fs=8000)[0]
    expected["aaab-stereo44k"] = greedy(soundfile.read(w / "st.wav")[0], fs=44100)[0]
    line = {row.split()[0]: n for n, row in enumerate(scp.read_text().splitlines(), 1)}
    bad = {
        "bbbb-missing": f"bbbb-missing: {scp}:{line['bbbb-missing']}: {w}/missing.wav: no such file",
        "bbbc-corrupt": f"bbbc-corrupt: {scp}:{line['bbbc-corrupt']}: {w}/corrupt.wav: unreadable: ",
        "bbbd-space": f"bbbd-space: {scp}:{line['bbbd-space']}: x {w}/8k.wav: no such file; is the id 'bbbd-space x'?",
        "bbbe-nan": f"bbbe-nan: {scp}:{line['bbbe-nan']}: {w}/nan.wav: 1 non-finite samples (NaN / inf), the first at sample 5",
        "bbbf-long": "bbbf-long: prompt (",
    }
    keys = sorted(list(expected) + list(bad))
    files = {name: _rows(out / "1best_recog" / name) for name in NAMES}
    for name, rows in files.items():
        assert list(rows) == keys, name
    for key in keys:
        text, tokens, ids, score = expected.get(key, EMPTY)
        assert files["text"][key] == text and files["token_int"][key] == " ".join(map(str, ids))
        assert files["token"][key] == " ".join(tokens)
        assert float(files["score"][key]) == pytest.approx(score, abs=1e-4)
    assert all(expected[k][2] for k in expected)  # the good ones are not trivially empty
    reasons = read_map(out / "bad_utts.txt")
    assert sorted(reasons) == sorted(bad)
    for key, start in bad.items():
        assert reasons[key].startswith(start), key
    assert "600.00 s of audio" in reasons["bbbf-long"] and "at most" in reasons["bbbf-long"]


def test_fail_names_the_utterance_and_keeps_what_was_decoded(trained_exp, good, tmp_path):
    w = tmp_path
    scp = _scp(tmp_path, [f"{k} {p}" for k, (p, _) in good.items()] + [f"zzzz-missing {w}/missing.wav"])
    out = tmp_path / "decode"
    n = len(good) + 1
    with pytest.raises(BadUtteranceError, match=f"^zzzz-missing: {scp}:{n}: {w}/missing.wav: no such file$"):
        main(_cmd(trained_exp, scp, out, "--batch_size", "1"))  # fail is the default
    text = _rows(out / "1best_recog" / "text")
    assert list(text) == sorted(good) and all(text.values())
    assert not (out / "bad_utts.txt").exists()


def test_help_documents_bad_input_and_the_length_limit():
    text = " ".join(get_parser().format_help().split())
    assert "--on_bad_utt {fail,skip}" in text and "<output_dir>/bad_utts.txt" in text
    assert "--resample" in text and "downmixed to mono" in text
    assert "refused before it is encoded, naming it and the longest audio that fits" in text
