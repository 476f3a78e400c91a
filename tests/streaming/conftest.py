"""Tiny untrained streaming speech-LLMs built from configs, saved as training leaves them."""

from pathlib import Path

import pytest
import soundfile

from tiny import TINY_LLAMA, built_exp, tiny_train_config

# Blocks of 8 encoder frames (40 ms each after conv2d), hop 4, look-ahead 2.
STREAMING_ENCODER = dict(
    output_size=32, attention_heads=2, linear_units=64, num_blocks=2, input_layer="conv2d",
    block_size=8, hop_size=4, look_ahead=2,
)


def streaming_config(tiny_tokenizer: Path, **encoder_overrides) -> dict:
    """``tiny_train_config`` with the contextual block conformer, no normalisation (the
    default utterance_mvn cannot stream) and a peaked random LLM (init 0.5) that does not
    stop at once."""
    conf = tiny_train_config(tiny_tokenizer, config=dict(TINY_LLAMA, initializer_range=0.5))
    conf.update(
        encoder="contextual_block_conformer",
        encoder_conf=dict(STREAMING_ENCODER, **encoder_overrides),
        normalize=None,
    )
    return conf



@pytest.fixture(scope="session")
def streaming_exp(tmp_path_factory, tiny_tokenizer) -> Path:
    return built_exp(tmp_path_factory.mktemp("stream") / "exp", streaming_config(tiny_tokenizer))


@pytest.fixture(scope="session")
def offline_exp(tmp_path_factory, tiny_tokenizer) -> Path:
    """The same tiny system with ESPnet's (non-streaming) conformer."""
    conf = tiny_train_config(tiny_tokenizer)
    conf["normalize"] = None
    return built_exp(tmp_path_factory.mktemp("offline") / "exp", conf)


@pytest.fixture(scope="session")
def an4_wavs(mini_an4) -> dict:
    """mini_an4's utterances (0.7 s to 2.9 s), 16 kHz float32."""
    from conftest import mini_an4_rows

    out = {}
    for row in mini_an4_rows():
        wav, fs = soundfile.read(mini_an4 / row["wav"], dtype="float32")
        assert fs == 16000, (row["wav"], fs)
        out[row["utt_id"]] = wav
    return out
