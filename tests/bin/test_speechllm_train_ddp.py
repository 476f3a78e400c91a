"""Data-parallel training through ESPnet's own options: ``torchrun`` starts 2 CPU processes,
``--ngpu 0 --dist_backend gloo`` makes ESPnet's Trainer wrap the model in DDP. They must
reach the parameters of 1 process with twice the batch (tests/data_parallel.py says why
the data make that exact)."""

import pytest

from conftest import mini_an4_rows
from data_parallel import (
    B,
    EPOCHS,
    STEPS_PER_EPOCH,
    epoch_params,
    equal_cmd,
    equal_config,
    make_equal_data,
    max_diff,
    recorded_steps,
    recording_forward,
    torchrun,
)
from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel
from espnet_speechllm.tasks.speechllm import SpeechLLMTask


@pytest.fixture(scope="module")
def equal_data(tmp_path_factory, mini_an4, tiny_tokenizer):
    wavs = [mini_an4 / r["wav"] for r in mini_an4_rows()]
    return make_equal_data(tmp_path_factory.mktemp("equal"), wavs, tiny_tokenizer)


@pytest.mark.parametrize("mode", ["lora", pytest.param("frozen", marks=pytest.mark.slow)])
def test_two_processes_match_one_process_with_twice_the_batch(
    mode, tmp_path, tiny_tokenizer, tiny_llm, equal_data, monkeypatch
):
    config = equal_config(tmp_path, tiny_tokenizer, tiny_llm, mode)
    ddp_args = equal_cmd(config, equal_data, tmp_path / "ddp", 2 * B)
    torchrun(2, ddp_args, tmp_path / "utts", tmp_path / "ddp.log")
    monkeypatch.setattr(ESPnetSpeechLLMModel, "forward", recording_forward(tmp_path / "utts.1p"))
    SpeechLLMTask.main(cmd=equal_cmd(config, equal_data, tmp_path / "single", 2 * B))
    monkeypatch.undo()
    SpeechLLMTask.main(cmd=equal_cmd(config, equal_data, tmp_path / "half", B))

    # ESPnet's split: rank r trains on batch[r::2] of the same sorted batches of 2B.
    single = recorded_steps(tmp_path / "utts.1p")
    assert len(single) == STEPS_PER_EPOCH * EPOCHS and all(len(b) == 2 * B for b in single)
    for rank in (0, 1):
        assert recorded_steps(tmp_path / f"utts.{rank}") == [b[rank::2] for b in single], rank
    log = (tmp_path / "ddp.log").read_text()
    assert f"{EPOCHS}/{EPOCHS}epoch started" in log and ":0/2]" in log

    ddp, one, half = (epoch_params(tmp_path / n) for n in ("ddp", "single", "half"))
    # Rank 0 wrote the trained parts only, and the same files as one process.
    decoder = [k for k in ddp if k.startswith("decoder.")]
    if mode == "frozen":
        assert decoder == []
    else:
        assert len(decoder) == 4 * 2 * 2 and all("lora_" in k for k in decoder), decoder
    files = lambda exp: sorted(p.name for p in exp.iterdir())  # noqa: E731
    assert files(tmp_path / "ddp") == files(tmp_path / "single")
    diff, moved = max_diff(ddp, one), max_diff(half, one)
    print(f"DDP {mode}: {EPOCHS * STEPS_PER_EPOCH} steps, B={B}: max |2 x B - 1 x 2B| = "
          f"{diff:.3g}, max |1 x B - 1 x 2B| = {moved:.3g}")  # fmt: skip
    assert diff < 1e-5, diff
    assert moved > 1e-2, moved  # the batch size matters: the tolerance can tell
