"""Two-stage training (Speech-LLaMA): stage B starts from stage A and adds LoRA.

scripts/run_two_stage.sh chains two run.sh calls; the second passes --init_param, which
ESPnet's load_pretrained_model applies to the stage-B model built from its own config.
"""

import argparse
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from espnet2.torch_utils.load_pretrained_model import load_pretrained_model
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from shell_env import recipe_env
from tiny import tiny_train_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "egs2" / "TEMPLATE" / "speechllm1" / "scripts" / "run_two_stage.sh"


def _build(tmp_path: Path, name: str, tok: Path, llm: Path, mode: str, seed: int):
    conf = tiny_train_config(tok, mode=mode, config=None, model_name_or_path=str(llm))
    conf.update(projector="transformer", projector_conf=dict(hidden_size=16, num_layers=1))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    torch.manual_seed(seed)
    return SpeechLLMTask.build_model(args)


def test_stage_b_loads_stage_a_and_trains_only_lora_in_the_llm(tmp_path, tiny_tokenizer, tiny_llm):
    stage_a = _build(tmp_path, "a", tiny_tokenizer, tiny_llm, "frozen", seed=1)
    ckpt = tmp_path / "valid.acc.ave.pth"
    torch.save(stage_a.state_dict(), ckpt)
    # A frozen LLM is not in the checkpoint: stage A's file holds the speech side only.
    assert not any(k.startswith("decoder.") for k in torch.load(ckpt))

    stage_b = _build(tmp_path, "b", tiny_tokenizer, tiny_llm, "lora", seed=2)
    enc_b = stage_b.encoder.state_dict()
    differs = [k for k, v in stage_a.encoder.state_dict().items() if not torch.equal(v, enc_b[k])]
    assert differs, "different seeds should give a different random encoder before loading"
    load_pretrained_model(str(ckpt), stage_b, ignore_init_mismatch=False, map_location="cpu")

    for part in ("encoder", "compressor", "projector"):
        a, b = getattr(stage_a, part).state_dict(), getattr(stage_b, part).state_dict()
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{part}.{k} not taken from stage A"
    trained = [n for n, p in stage_b.decoder.named_parameters() if p.requires_grad]
    assert len(trained) == 4 * 2 * 2 and all("lora_" in n for n in trained)  # A, B x qkvo x 2 layers
    # The base LLM under the adapters is still the pretrained one (both models loaded it).
    base_a = stage_a.decoder.causal_lm.state_dict()
    for k, v in stage_b.decoder.causal_lm.state_dict().items():
        if "lora_" not in k:
            key = k.replace(".base_layer", "")
            assert torch.equal(v, base_a[key]), k


def test_run_two_stage_chains_run_sh_with_init_param(tmp_path):
    (tmp_path / "conf").mkdir()
    for name in ("train_a_frozen.yaml", "train_b_lora.yaml"):
        (tmp_path / "conf" / name).write_text("{}\n")
    # A stub run.sh: records its arguments; "training" leaves the averaged model.
    (tmp_path / "run.sh").write_text(
        "#!/usr/bin/env bash\n"
        'echo "$*" >> calls.txt\n'
        'tag=""; prev=""; for a in "$@"; do [ "$prev" = --speechllm_tag ] && tag=$a; prev=$a; done\n'
        'mkdir -p exp/$tag && touch exp/$tag/valid.acc.ave.pth\n'
    )
    (tmp_path / "run.sh").chmod(0o755)
    out = subprocess.run(
        ["bash", str(SCRIPT), "--stage_a_config", "conf/train_a_frozen.yaml",
         "--stage_b_config", "conf/train_b_lora.yaml", "--speechllm_args", "--max_epoch 2",
         "--ctc_pretrain_config", "conf/ctc.yaml", "--ngpu", "0"],
        cwd=tmp_path, capture_output=True, text=True, env=recipe_env(),
    )
    assert out.returncode == 0, out.stderr
    first, second = (tmp_path / "calls.txt").read_text().splitlines()
    assert first.startswith("--stage 9 --stop_stage 11 ") and "--speechllm_tag a_frozen" in first
    assert "--speechllm_args --max_epoch 2 --ctc_pretrain_config conf/ctc.yaml --ngpu 0" in first
    assert second.startswith("--stage 11 ") and "--speechllm_tag b_lora" in second
    assert "--speechllm_args --max_epoch 2 --init_param exp/a_frozen/valid.acc.ave.pth" in second
    # CTC pre-training (stage 9) initialises stage A only: stage B starts from all of A.
    assert "--ctc_pretrain_config conf/ctc.yaml" in first
    assert "--ctc_pretrain_config" not in second and "conf/ctc.yaml" not in second
    assert second.endswith("--ngpu 0")


def test_run_two_stage_needs_both_configs(tmp_path):
    out = subprocess.run(["bash", str(SCRIPT), "--stage_a_config", "x.yaml"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "--stage_b_config" in out.stderr
