"""--resume on an experiment dir whose checkpoint belongs to another model (the same tag
reused after switching the LLM) stops with a message naming the experiment and why."""

import shutil

import pytest
import yaml

from espnet_speechllm.tasks.causal_lm import CausalLMTask
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from espnet_speechllm.train.resume_trainer import ResumeMismatchError, ResumeTrainer
from tiny import tiny_train_config, train_cmd


def test_tasks_resume_through_the_checking_trainer():
    for task in (SpeechLLMTask, CausalLMTask):
        assert issubclass(task.trainer, ResumeTrainer)


def test_resuming_another_llms_checkpoint_names_the_experiment(
    tmp_path, trained_exp, tiny_tokenizer, an4_dirs
):
    exp = tmp_path / "exp" / "speechllm_tiny"
    exp.mkdir(parents=True)
    shutil.copy(trained_exp / "checkpoint.pth", exp / "checkpoint.pth")
    config = tiny_train_config(tiny_tokenizer)
    config["decoder_conf"]["config"].update(hidden_size=48, intermediate_size=96)
    config["max_epoch"] = 3
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    stats = trained_exp.parent / "stats"
    cmd = train_cmd(tmp_path / "train.yaml", an4_dirs, exp, stats, "--resume", "true")
    with pytest.raises(ResumeMismatchError) as e:
        SpeechLLMTask.main(cmd=cmd)
    msg = str(e.value)
    assert msg.startswith(f"cannot resume the experiment {exp}: its checkpoint.pth")
    assert "trained with another model than the one built now" in msg
    # The LLM's shapes come first, with the checkpoint's and the new model's sizes.
    why = msg.split("config under the same experiment dir): ")[1]
    assert why.startswith("decoder: ") and "[320, 32] in the checkpoint vs [320, 48] now" in why
    assert "projector: " in why
    assert f"delete {exp}/checkpoint.pth" in msg
    assert (exp / "checkpoint.pth").is_file()  # nothing already written is lost
