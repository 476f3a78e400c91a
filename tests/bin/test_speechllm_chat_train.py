"""A tiny chat-layout system (ChatML template) trained with ESPnet's Trainer with the KL term
(distill_weight 0.5), then decoded with per-utterance history and instruction files."""

import json

import pytest
import torch
import yaml

from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM
from espnet_speechllm.bin.speechllm_inference import main as inference_main
from espnet_speechllm.bin.speechllm_train import main as train_main
from chat_tiny import chat_train_config, save_chatml_tokenizer

HISTORY = [{"role": "user", "content": "HELLO"}, {"role": "assistant", "content": "HI THERE"}]


def _kaldi(path, rows):
    path.write_text("".join(f"{k} {v}\n" for k, v in rows))
    return path


@pytest.fixture(scope="module")
def chat_data(tmp_path_factory, an4_dirs):
    """data/{train,test}: wav.scp, response (the target), text (the transcript), history,
    instruction."""
    root = tmp_path_factory.mktemp("chat_data")
    for split in ("train", "test"):
        d = root / split
        d.mkdir()
        (d / "wav.scp").write_text((an4_dirs / split / "wav.scp").read_text())
        rows = [line.split(" ", 1) for line in (an4_dirs / split / "text").read_text().splitlines()]
        _kaldi(d / "text", rows)
        # A response unlike the transcript: the teacher and the student read different inputs.
        _kaldi(d / "response", [(k, " ".join(reversed(v.split()))) for k, v in rows])
        _kaldi(d / "history", [(k, json.dumps(HISTORY)) for k, _ in rows])
        _kaldi(d / "instruction", [(k, "ANSWER THE QUESTION") for k, _ in rows])
    return root


def _data_args(data, split, name):
    d = data / name
    return [
        f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
        f"--{split}_data_path_and_name_and_type", f"{d}/response,text,text",
        f"--{split}_data_path_and_name_and_type", f"{d}/text,src_text,text",
        f"--{split}_data_path_and_name_and_type", f"{d}/history,history,text",
        f"--{split}_shape_file", f"{d}/wav.scp",  # unsorted batches: keys only
    ]  # fmt: skip


@pytest.fixture(scope="module")
def chat_exp(tmp_path_factory, tiny_tokenizer, chat_data):
    root = tmp_path_factory.mktemp("chat_exp")
    tok = save_chatml_tokenizer(tiny_tokenizer, root / "tok")
    conf = chat_train_config(tok, "lora", distill_weight=0.5, instruction="TRANSCRIBE:")
    conf.update(batch_type="unsorted", max_epoch=1, num_iters_per_epoch=2)
    (root / "train.yaml").write_text(yaml.safe_dump(conf))
    out = root / "exp"
    train_main(
        ["--config", str(root / "train.yaml"), "--output_dir", str(out), "--ngpu", "0",
         "--use_matplotlib", "false", *_data_args(chat_data, "train", "train"),
         *_data_args(chat_data, "valid", "test")]  # fmt: skip
    )
    return out


def test_chat_system_trains_two_steps_with_the_kl_term(chat_exp):
    from espnet2.train.reporter import Reporter

    state = torch.load(chat_exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    reporter = Reporter()
    reporter.load_state_dict(state["reporter"])
    assert reporter.get_epoch() == 1
    for key in ("loss", "loss_att", "loss_kl", "loss_ctc"):
        value = reporter.get_value("train", key, 1)
        assert value == value and value >= 0, key  # logged and not NaN
    assert reporter.get_value("train", "loss_kl", 1) > 0


def test_decoding_reads_history_and_instruction_files(chat_exp, chat_data, tmp_path):
    test = chat_data / "test"
    base = ["--train_config", str(chat_exp / "config.yaml"),
            "--model_file", str(chat_exp / "1epoch.pth"), "--max_new_tokens", "5",
            "--data_path_and_name_and_type", f"{test}/wav.scp,speech,sound"]  # fmt: skip
    extra = ["--data_path_and_name_and_type", f"{test}/history,history,text",
             "--data_path_and_name_and_type", f"{test}/instruction,instruction,text"]  # fmt: skip
    inference_main(base + extra + ["--output_dir", str(tmp_path / "chat")])
    inference_main(base + ["--output_dir", str(tmp_path / "plain")])
    keys = [line.split()[0] for line in (test / "wav.scp").read_text().splitlines()]
    for name in ("chat", "plain"):
        out = (tmp_path / name / "1best_recog" / "token_int").read_text().splitlines()
        assert sorted(line.split(" ", 1)[0] for line in out) == sorted(keys)


def test_decoding_prefix_equals_the_training_prefix(chat_exp, chat_data):
    """The prompt ids decoding gives an utterance are those training gave it (one layout)."""
    s2t = Speech2TextLLM(chat_exp / "config.yaml", chat_exp / "1epoch.pth")
    model = s2t.model
    fields = [{"history": json.dumps(HISTORY), "instruction": "SAY IT"}]
    prompts = s2t.prompts(fields)
    assert prompts == model.layout.batch_audio_ids(1, fields)
    assert prompts[0] == model.layout.audio_ids("SAY IT", HISTORY)
    # Without files: the conf's instruction; --instruction replaces it.
    assert s2t.prompts([{}]) == [model.layout.audio_ids("TRANSCRIBE:")]
    other = Speech2TextLLM(chat_exp / "config.yaml", chat_exp / "1epoch.pth", instruction="X")
    assert other.prompts([{}]) == [model.layout.audio_ids("X")]
    assert s2t.eos == model.layout.eot != model.decoder.eos
