"""ESPnet's DeepSpeedTrainer (``--use_deepspeed true``) with the ZeRO-2 / ZeRO-3 configs
that speechllm1 ships, on 2 CPU processes (DeepSpeed's CPU accelerator over gloo;
tests/data_parallel.py moves ESPnet's trainer off "cuda"). After
``recipe/deepspeed_export.py`` the epoch's parameters must equal those of ESPnet's
Trainer on 1 process with twice the batch, and load strictly for decoding. Skipped
without deepspeed (not a dependency of the package)."""

import json
from pathlib import Path

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
    torchrun,
)
from espnet_speechllm.recipe.deepspeed_export import export
from espnet_speechllm.tasks.speechllm import SpeechLLMTask

pytest.importorskip("deepspeed")

CONF = Path(__file__).resolve().parents[2] / "egs2" / "TEMPLATE" / "speechllm1" / "conf"


@pytest.fixture(scope="module")
def equal_data(tmp_path_factory, mini_an4, tiny_tokenizer):
    wavs = [mini_an4 / r["wav"] for r in mini_an4_rows()]
    return make_equal_data(tmp_path_factory.mktemp("equal"), wavs, tiny_tokenizer)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, tiny_tokenizer, tiny_llm, equal_data):
    """ESPnet's Trainer, 1 process x 2B, LoRA LLM: (config, its last epoch's parameters)."""
    root = tmp_path_factory.mktemp("one")
    config = equal_config(root, tiny_tokenizer, tiny_llm, "lora")
    SpeechLLMTask.main(cmd=equal_cmd(config, equal_data, root / "exp", 2 * B))
    return config, epoch_params(root / "exp")


@pytest.mark.parametrize("stage", [2, 3])
def test_zero_matches_one_process_with_twice_the_batch(stage, tmp_path, equal_data, one_process):
    config, one = one_process
    ds_conf = json.loads((CONF / f"deepspeed_zero{stage}.json").read_text())
    assert ds_conf["zero_optimization"]["stage"] == stage
    assert "bf16" not in ds_conf and "fp16" not in ds_conf  # ESPnet would cast the audio
    # The Trainer's optimizer (SGD) and its grad_clip default, for the comparison.
    ds_conf.pop("scheduler")
    ds_conf.update(
        optimizer={"type": "SGD", "params": {"lr": 0.5}},
        gradient_clipping=5.0,
        zero_allow_untested_optimizer=True,
    )
    (tmp_path / "ds.json").write_text(json.dumps(ds_conf))
    exp = tmp_path / "ds"
    args = equal_cmd(config, equal_data, exp, 2 * B)
    args += ["--use_deepspeed", "true", "--deepspeed_config", str(tmp_path / "ds.json")]
    torchrun(2, args, tmp_path / "utts", tmp_path / "ds.log", "--deepspeed_on_cpu")
    assert not (exp / f"{EPOCHS}epoch.pth").exists()  # ESPnet writes DeepSpeed's layout only

    written = export(exp)
    assert [p.name for p in written] == [f"{e}epoch.pth" for e in range(1, EPOCHS + 1)]
    ds = epoch_params(exp)
    diff = max_diff(ds, one)  # same keys: the trained parts only (LoRA, no frozen LLM)
    print(f"ZeRO-{stage}: {EPOCHS * STEPS_PER_EPOCH} steps, B={B}: "
          f"max |2 x B - 1 x 2B| = {diff:.3g}")  # fmt: skip
    assert diff < 1e-5, diff
    model, _ = SpeechLLMTask.build_model_from_file(exp / "config.yaml", exp / "valid.acc.ave.pth")
    assert model.loss_summed_over_batch  # config.yaml: use_deepspeed, distributed
