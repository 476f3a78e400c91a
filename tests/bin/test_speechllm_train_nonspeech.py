"""ESPnet's trainer on data with non-speech utterances (<nospeech>) and ESPnet's own
noise / RIR augmentation (mini_an4's noise clips and RIRs)."""

import shutil

import torch
import yaml

from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from tiny import collect_stats_cmd, tiny_train_config, train_cmd


def test_nonspeech_utterances_and_augmentation_train_through_espnet(
    tmp_path, tiny_tokenizer, an4_dirs, mini_an4
):
    data = tmp_path / "data"
    shutil.copytree(an4_dirs, data)
    noises = sorted((mini_an4 / "noise").glob("*.wav"))
    with open(data / "train" / "wav.scp", "a") as scp, open(data / "train" / "text", "a") as text:
        for i, wav in enumerate(noises):
            scp.write(f"zz-nonspeech-{i} {wav}\n")
            text.write(f"zz-nonspeech-{i} <nospeech>\n")
    (tmp_path / "noise.scp").write_text("".join(f"n{i} {w}\n" for i, w in enumerate(noises)))
    rirs = sorted((mini_an4 / "rirs").glob("*.wav"))
    (tmp_path / "rir.scp").write_text("".join(f"r{i} {w}\n" for i, w in enumerate(rirs)))
    conf = tiny_train_config(tiny_tokenizer)
    conf["max_epoch"] = 1
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(conf))
    stats = tmp_path / "stats"
    SpeechLLMTask.main(cmd=collect_stats_cmd(config, data, stats))
    shapes = dict(line.split() for line in (stats / "train" / "text_shape").read_text().splitlines())
    assert shapes["zz-nonspeech-0"] == "0"  # <nospeech>: zero tokens, the target is eos
    aug = ["--noise_scp", str(tmp_path / "noise.scp"), "--rir_scp", str(tmp_path / "rir.scp"),
           "--noise_apply_prob", "1.0", "--rir_apply_prob", "1.0",
           "--use_matplotlib", "false"]  # fmt: skip
    SpeechLLMTask.main(cmd=train_cmd(config, data, tmp_path / "exp", stats, *aug))
    from espnet2.train.reporter import Reporter

    reporter = Reporter()
    state = torch.load(tmp_path / "exp" / "checkpoint.pth", map_location="cpu", weights_only=False)
    reporter.load_state_dict(state["reporter"])
    assert reporter.get_epoch() == 1
    assert torch.isfinite(torch.tensor(reporter.get_value("train", "loss", 1)))
