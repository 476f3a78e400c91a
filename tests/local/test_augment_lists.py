"""Tests of local/augment_lists.py: noise + RIR lists that ESPnet's preprocessor
(SpeechLLMTask --noise_scp / --rir_scp) applies."""

import shutil

import numpy as np
import pytest
import yaml

import augment_lists as aug

from espnet_speechllm.utils.kaldi_io import read_map


def test_synthetic_rir_is_a_direct_path_and_a_decaying_tail():
    h = aug.synthetic_rir(0.5, np.random.default_rng(0))
    assert h.dtype == np.float32 and len(h) > 0.5 * 16000
    assert h[0] == 1.0 and np.abs(h).max() == 1.0
    n = len(h) // 10
    assert (h[-n:] ** 2).mean() < 1e-4 * (h[1 : n + 1] ** 2).mean()  # ~60 dB down


@pytest.mark.skipif(not (shutil.which("sox") and shutil.which("espeak-ng")), reason="needs sox + espeak-ng")
def test_preprocessor_applies_the_noise_and_rir_lists(tmp_path, tiny_tokenizer):
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from tiny import tiny_train_config

    aug.main(["--out_dir", str(tmp_path / "augment"), "--wav_dir", str(tmp_path / "wav"),
              "--num_noises", "3", "--num_rirs", "2", "--seed", "1"])
    noise_scp, rir_scp = tmp_path / "augment" / "noise.scp", tmp_path / "augment" / "rir.scp"
    assert len(read_map(noise_scp)) == 3 and len(read_map(rir_scp)) == 2
    conf = tmp_path / "train.yaml"
    conf.write_text(yaml.safe_dump(tiny_train_config(tiny_tokenizer)))

    def preprocess(train, *flags):
        args = SpeechLLMTask.get_parser().parse_args(
            ["--config", str(conf), "--output_dir", "x", *flags])
        speech = np.sin(np.arange(16000) * 0.05).astype(np.float32) * 0.3
        np.random.seed(0)  # ESPnet draws the noise, RIR and SNR with numpy's global RNG
        out = SpeechLLMTask.build_preprocess_fn(args, train=train)("u", {"speech": speech, "text": "A"})
        return speech, out["speech"]

    clean, same = preprocess(True)
    assert np.array_equal(clean, same)  # no lists given: nothing applied
    for flags in (["--noise_scp", str(noise_scp)], ["--rir_scp", str(rir_scp)],
                  ["--noise_scp", str(noise_scp), "--rir_scp", str(rir_scp)]):
        clean, noisy = preprocess(True, *flags)
        assert noisy.shape == clean.shape, flags
        assert np.abs(noisy - clean).mean() > 1e-3, flags
        _, untouched = preprocess(False, *flags)  # validation / decoding: never augmented
        assert np.array_equal(untouched, clean), flags
