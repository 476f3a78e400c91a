"""Data-parallel training tests' data, config and launcher (DDP and DeepSpeed, CPU).

2 processes x B utterances must reach the parameters of 1 process x 2B after the same
steps. ESPnet cuts each sorted mini-batch of ``--batch_size`` 2B into ``batch[rank::2]``,
so both runs see the same utterances in the same order; the data make the two exact up
to float rounding: every utterance has the same number of samples (no padding, so the
STFT's edge frames match) and of target tokens (the LLM loss is a token mean per
process, which ESPnet's Trainer weights by utterance count), dropout is 0, one prompt,
no BatchNorm, and SGD (Adam would magnify rounding in near-zero gradients).

Run by ``torchrun`` (``python this.py RECORD [--deepspeed_on_cpu] <speechllm_train
args>``) it trains and writes ``RECORD.<rank>``: one line of utterance ids per step
(ESPnet logs the batches before it splits them, not each rank's share).
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

import soundfile as sf
import torch
import yaml

from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel
from shell_env import ROOT, recipe_env
from tiny import tiny_train_config, train_cmd

B = 2  # utterances per process and step
STEPS_PER_EPOCH, EPOCHS = 2, 2
SAMPLES = 8000  # 0.5 s each
# One token each for the tiny BPE of tests/conftest.py: FIRST at the start of a text,
# SECOND after a space.
FIRST = ("YES", "GO", "MARCH", "START", "ELEVEN", "ONE", "SEVEN", "OCTOBER")
SECOND = ("THIRD", "NINETEEN", "TWENTY", "EIGHT", "SEVENTEEN", "FIFTY", "FOUR", "SEVENTY")


def make_equal_data(root: Path, wavs: List[Path], tokenizer_dir: Path) -> Path:
    """Kaldi dirs ``train/``, ``test/`` of 0.5 s crops of ``wavs`` whose texts all have
    the same token count, and ``stats/{train,valid}`` with their shape files (stage 10's)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    audio = [sf.read(w, dtype="int16")[0] for w in wavs]
    n_train = 2 * B * STEPS_PER_EPOCH
    texts = [f"{FIRST[i % 8]} {SECOND[(i // 8 + 3 * i) % 8]}" for i in range(n_train + 2 * B)]
    counts = {t: len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts}
    assert len(counts) == len(texts) and len(set(counts.values())) == 1, counts
    splits = (("train", "train", range(n_train)), ("test", "valid", range(n_train, len(texts))))
    for name, stats, ids in splits:
        d, s = root / name, root / "stats" / stats
        d.mkdir(parents=True)
        s.mkdir(parents=True)
        files = {d / "wav.scp": [], d / "text": [], s / "speech_shape": [], s / "text_shape": []}
        for i in ids:
            utt, wav = f"utt{i:02d}", audio[i % len(audio)]
            start = (i // len(audio)) * 3000  # a second crop of the same recording
            crop = wav[start : start + SAMPLES]
            assert len(crop) == SAMPLES, (utt, len(wav))
            sf.write(d / f"{utt}.wav", crop, 16000)
            values = (d / f"{utt}.wav", texts[i], SAMPLES, counts[texts[i]])
            for lines, value in zip(files.values(), values):
                lines.append(f"{utt} {value}")
        for path, lines in files.items():
            path.write_text("\n".join(lines) + "\n")
    return root


def equal_config(root: Path, tiny_tokenizer: Path, tiny_llm: Path, mode: str) -> Path:
    """The tiny config on the tiny saved LLM (``frozen`` / ``lora``), made exact to split."""
    conf = tiny_train_config(
        tiny_tokenizer,
        mode=mode,
        config=None,
        model_name_or_path=str(tiny_llm),
        lora_conf=dict(r=4, lora_alpha=8),
    )
    conf["encoder_conf"].update(
        dropout_rate=0.0, positional_dropout_rate=0.0, attention_dropout_rate=0.0,
        use_cnn_module=False,  # BatchNorm: its statistics depend on the batch split
    )  # fmt: skip
    conf["model_conf"]["prompt"] = ["Transcribe:"]  # drawn at random from several
    conf.update(max_epoch=EPOCHS, optim="sgd", optim_conf=dict(lr=0.5), use_matplotlib=False)
    path = root / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def equal_cmd(config: Path, data: Path, out: Path, batch_size: int) -> list:
    """speechllm_train's arguments over ``make_equal_data``'s dirs."""
    return train_cmd(config, data, out, data / "stats", "--batch_size", str(batch_size))


def torchrun(nproc: int, args: list, record: Path, log: Path, *extra: str) -> None:
    """This file under torch's launcher, with the flags speechllm.sh --nproc adds."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", __file__, str(record), *extra, *args,
           "--multiprocessing_distributed", "true", "--dist_backend", "gloo"]  # fmt: skip
    # The caller's PYTHONPATH too (e.g. a deepspeed installed outside the venv).
    path = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    env = recipe_env(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONPATH=path)
    with open(log, "w") as f:
        proc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=900)
    assert proc.returncode == 0, log.read_text()[-4000:]


def recorded_steps(path: Path) -> list:
    return [line.split() for line in path.read_text().splitlines()]


def epoch_params(exp: Path) -> dict:
    return torch.load(exp / f"{EPOCHS}epoch.pth", map_location="cpu")


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys(), set(a) ^ set(b)
    return max((a[k] - b[k]).abs().max().item() for k in a)


def recording_forward(path: Path) -> Callable:
    """``ESPnetSpeechLLMModel.forward`` that first appends a training batch's ids to ``path``."""
    forward = ESPnetSpeechLLMModel.forward

    def recording(self, *args, **kwargs):
        if self.training:
            with open(path, "a", encoding="utf-8") as f:
                f.write(" ".join(kwargs["utt_id"]) + "\n")
        return forward(self, *args, **kwargs)

    return recording


def _deepspeed_on_cpu() -> None:
    # NOTE: ESPnet's DeepSpeedTrainer puts batches and its stop flag on "cuda";
    # DeepSpeed itself runs on its CPU accelerator (gloo).
    import espnet2.train.deepspeed_trainer as trainer
    from espnet2.torch_utils.device_funcs import to_device

    trainer.to_device = lambda data, device, dtype=None: to_device(data, "cpu", dtype=dtype)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self


if __name__ == "__main__":
    from espnet_speechllm.bin.speechllm_train import main

    record, argv = sys.argv[1], sys.argv[2:]
    if argv[0] == "--deepspeed_on_cpu":
        _deepspeed_on_cpu()
        argv = argv[1:]
    ESPnetSpeechLLMModel.forward = recording_forward(Path(f"{record}.{os.environ['RANK']}"))
    main(argv)
