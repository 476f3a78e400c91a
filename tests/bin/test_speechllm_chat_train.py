"""A tiny chat-layout system (ChatML template) trained with ESPnet's Trainer with the KL term
(distill_weight 0.5), then decoded with per-utterance history and instruction files."""

import json

import torch

from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM
from espnet_speechllm.bin.speechllm_inference import main as inference_main
from chat_tiny import HISTORY, chat_data, chat_exp  # noqa: F401 (fixtures)

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
