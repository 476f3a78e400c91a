"""Data-parallel training through ESPnet's own options: ``torchrun`` starts 2 CPU processes,
``--ngpu 0 --dist_backend gloo`` makes ESPnet's Trainer wrap the model in DDP.

2 processes x B utterances must reach the parameters of 1 process x 2B after the same
steps. ESPnet cuts each sorted mini-batch of ``--batch_size`` 2B into ``batch[rank::2]``,
so both runs see the same utterances in the same order; the data make the two exact up
to float rounding: every utterance has the same number of samples (no padding, so the
STFT's edge frames match) and of target tokens (the LLM loss is a token mean per
process, which ESPnet's Trainer weights by utterance count), dropout is 0, one prompt.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml

from conftest import ROOT, mini_an4_rows
from ddp_worker import recording_forward
from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from shell_env import recipe_env
from tiny import tiny_train_config, train_cmd

B = 2  # utterances per process and step
STEPS_PER_EPOCH, EPOCHS = 2, 2
SAMPLES = 8000  # 0.5 s each
# One token each for the tiny BPE: FIRST at the start of a text, SECOND after a space.
FIRST = ("YES", "GO", "MARCH", "START", "ELEVEN", "ONE", "SEVEN", "OCTOBER")
SECOND = ("THIRD", "NINETEEN", "TWENTY", "EIGHT", "SEVENTEEN", "FIFTY", "FOUR", "SEVENTY")


def _n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.fixture(scope="module")
def equal_data(tmp_path_factory, mini_an4, tiny_tokenizer) -> Path:
    """Kaldi dirs train/ and test/ of 0.5 s crops of mini_an4 whose texts all have the
    same token count, and stats/{train,valid} with their shape files (as stage 10's)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer)
    root = tmp_path_factory.mktemp("equal")
    wavs = [sf.read(mini_an4 / r["wav"], dtype="int16")[0] for r in mini_an4_rows()]
    n_train = 2 * B * STEPS_PER_EPOCH
    texts = [f"{FIRST[i % 8]} {SECOND[(i // 8 + 3 * i) % 8]}" for i in range(n_train + 2 * B)]
    counts = {t: _n_tokens(tok, t) for t in texts}
    assert len(counts) == len(texts) and len(set(counts.values())) == 1, counts
    splits = (("train", "train", range(n_train)), ("test", "valid", range(n_train, len(texts))))
    for name, stats, ids in splits:
        d, s = root / name, root / "stats" / stats
        d.mkdir()
        s.mkdir(parents=True)
        files = {d / "wav.scp": [], d / "text": [], s / "speech_shape": [], s / "text_shape": []}
        rows = list(files.values())
        for i in ids:
            utt, wav = f"utt{i:02d}", wavs[i % len(wavs)]
            start = (i // len(wavs)) * 3000  # a second crop of the same recording
            crop = wav[start : start + SAMPLES]
            assert len(crop) == SAMPLES, (utt, len(wav))
            sf.write(d / f"{utt}.wav", crop, 16000)
            for lines, value in zip(rows, (d / f"{utt}.wav", texts[i], SAMPLES, counts[texts[i]])):
                lines.append(f"{utt} {value}")
        for path, lines in files.items():
            path.write_text("\n".join(lines) + "\n")
    return root


def _cmd(config: Path, data: Path, out: Path, batch_size: int) -> list:
    return train_cmd(config, data, out, data / "stats", "--batch_size", str(batch_size))


def _config(root: Path, tiny_tokenizer: Path, tiny_llm: Path, mode: str) -> Path:
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
    )
    conf["model_conf"]["prompt"] = ["Transcribe:"]  # drawn at random from several
    conf.update(
        max_epoch=EPOCHS, optim="sgd", optim_conf=dict(lr=0.5), use_matplotlib=False
    )
    path = root / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def _torchrun(nproc: int, args: list, record: Path, log: Path) -> None:
    """speechllm_train under torch's launcher, with the flags speechllm.sh --nproc adds."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", str(ROOT / "tests" / "ddp_worker.py"), str(record),
           *args, "--multiprocessing_distributed", "true", "--dist_backend", "gloo"]  # fmt: skip
    env = recipe_env(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    with open(log, "w") as f:
        proc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, log.read_text()[-4000:]


def _steps(path: Path) -> list:
    return [line.split() for line in path.read_text().splitlines()]


def _params(exp: Path) -> dict:
    return torch.load(exp / f"{EPOCHS}epoch.pth", map_location="cpu")


@pytest.mark.parametrize("mode", ["lora", pytest.param("frozen", marks=pytest.mark.slow)])
def test_two_processes_match_one_process_with_twice_the_batch(
    mode, tmp_path, tiny_tokenizer, tiny_llm, equal_data, monkeypatch
):
    config = _config(tmp_path, tiny_tokenizer, tiny_llm, mode)
    _torchrun(2, _cmd(config, equal_data, tmp_path / "ddp", 2 * B), tmp_path / "utts",
              tmp_path / "ddp.log")  # fmt: skip
    record = recording_forward(tmp_path / "utts.single")
    monkeypatch.setattr(ESPnetSpeechLLMModel, "forward", record)
    SpeechLLMTask.main(cmd=_cmd(config, equal_data, tmp_path / "single", 2 * B))
    monkeypatch.undo()
    SpeechLLMTask.main(cmd=_cmd(config, equal_data, tmp_path / "half", B))

    # ESPnet's split: rank r trains on batch[r::2] of the same sorted batches of 2B.
    single = _steps(tmp_path / "utts.single")
    assert len(single) == STEPS_PER_EPOCH * EPOCHS and all(len(b) == 2 * B for b in single)
    for rank in (0, 1):
        assert _steps(tmp_path / f"utts.{rank}") == [b[rank::2] for b in single], rank
    log = (tmp_path / "ddp.log").read_text()
    assert f"{EPOCHS}/{EPOCHS}epoch started" in log and ":0/2]" in log

    ddp, one, half = (_params(tmp_path / n) for n in ("ddp", "single", "half"))
    assert ddp.keys() == one.keys()
    # Rank 0 wrote the trained parts only, and the same files as one process.
    decoder = [k for k in ddp if k.startswith("decoder.")]
    if mode == "frozen":
        assert decoder == []
    else:
        assert len(decoder) == 4 * 2 * 2 and all("lora_" in k for k in decoder), decoder
    files = lambda exp: sorted(p.name for p in exp.iterdir())  # noqa: E731
    assert files(tmp_path / "ddp") == files(tmp_path / "single")
    diff = max((ddp[k] - one[k]).abs().max().item() for k in ddp)
    moved = max((half[k] - one[k]).abs().max().item() for k in ddp)
    print(f"{mode}: {EPOCHS * STEPS_PER_EPOCH} steps, B={B}: max |2 x B - 1 x 2B| = "
          f"{diff:.3g}, max |1 x B - 1 x 2B| = {moved:.3g}")  # fmt: skip
    assert diff < 1e-5, diff
    assert moved > 1e-2, moved  # the batch size matters: the tolerance can tell
