import logging
import shutil

import pytest
import torch
import yaml

from espnet_speechllm.bin.speechllm_train import main
from tiny import tiny_train_config, train_cmd

NO_PLOTS = ("--use_matplotlib", "false")  # seconds of matplotlib per epoch


def _reporter(exp):
    from espnet2.train.reporter import Reporter

    reporter = Reporter()
    state = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    reporter.load_state_dict(state["reporter"])
    return reporter


def _write(path, conf):
    path.write_text(yaml.safe_dump(conf))
    return path


def test_loss_falls_from_epoch_1_to_2(trained_exp):
    reporter = _reporter(trained_exp)
    assert reporter.get_epoch() == 2
    for key in ("loss", "loss_att"):
        first, second = (reporter.get_value("train", key, e) for e in (1, 2))
        assert second < first, key
    assert (trained_exp / "1epoch.pth").exists() and (trained_exp / "2epoch.pth").exists()
    # The token list is stored in config.yaml, so the model needs no other file.
    config = yaml.safe_load((trained_exp / "config.yaml").read_text())
    assert isinstance(config["token_list"], list) and len(config["token_list"]) == 320


def test_resume_continues_at_epoch_3(trained_exp, an4_dirs, tmp_path, caplog):
    out = tmp_path / "train"
    shutil.copytree(trained_exp, out)
    before = _reporter(out)
    root = trained_exp.parent  # train.yaml: the config that trained it (as the recipe resumes)
    with caplog.at_level(logging.INFO):
        main(
            train_cmd(root / "train.yaml", an4_dirs, out, root / "stats", *NO_PLOTS)
            + ["--resume", "true", "--max_epoch", "3"]
        )
    log = caplog.text
    assert f"The training was resumed using {out / 'checkpoint.pth'}" in log
    assert "3/3epoch started" in log
    assert "1/3epoch started" not in log and "2/3epoch started" not in log
    after = _reporter(out)
    assert after.get_epoch() == 3
    for e in (1, 2):  # the first two epochs are the original ones, not re-run
        for key in ("loss", "train_time"):
            assert after.get_value("train", key, e) == before.get_value("train", key, e)
    assert (out / "3epoch.pth").exists()


@pytest.fixture(scope="module", params=["frozen", "lora"])
def pretrained_exp(request, tmp_path_factory, tiny_tokenizer, tiny_llm, an4_dirs, trained_exp):
    """One epoch on top of the saved tiny LLM with the LLM frozen or LoRA-adapted."""
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    mode = request.param
    root = tmp_path_factory.mktemp(mode)
    conf = tiny_train_config(
        tiny_tokenizer,
        mode=mode,
        config=None,
        model_name_or_path=str(tiny_llm),
        lora_conf=dict(r=4, lora_alpha=8),
    )
    conf["max_epoch"] = 1
    config = _write(root / "train.yaml", conf)
    # Shapes depend only on the data and the tokenizer (shared with trained_exp).
    stats = trained_exp.parent / "stats"
    SpeechLLMTask.main(cmd=train_cmd(config, an4_dirs, root / "exp", stats, *NO_PLOTS))
    return mode, root / "exp"


def test_checkpoints_hold_only_trained_parts(pretrained_exp):
    mode, exp = pretrained_exp
    files = sorted(exp.glob("*.pth"))
    assert len(files) >= 3
    for path in files:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if path.name == "checkpoint.pth":
            state = state["model"]
        decoder = [k for k in state if k.startswith("decoder.")]
        assert any(k.startswith("encoder.") for k in state), path.name
        if mode == "frozen":
            assert decoder == [], path.name
        else:
            # LoRA A and B of q, k, v, o in each of the 2 layers, nothing else.
            assert len(decoder) == 4 * 2 * 2 and all("lora_" in k for k in decoder), path.name


def test_build_model_from_file_restores_the_base_llm(pretrained_exp, tiny_llm):
    from transformers import AutoModelForCausalLM

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    mode, exp = pretrained_exp
    saved = torch.load(exp / "1epoch.pth", map_location="cpu")
    model, _ = SpeechLLMTask.build_model_from_file(exp / "config.yaml", exp / "1epoch.pth")
    base = AutoModelForCausalLM.from_pretrained(tiny_llm).state_dict()
    restored = {
        k.replace(".base_layer.", "."): v
        for k, v in model.decoder.causal_lm.state_dict().items()
        if "lora_" not in k
    }
    assert restored.keys() == base.keys()
    for k, v in base.items():
        torch.testing.assert_close(restored[k], v, rtol=0, atol=0, msg=k)
    current = model.state_dict()
    for k, v in saved.items():
        torch.testing.assert_close(current[k], v, rtol=0, atol=0, msg=k)
    if mode == "lora":
        # lora_B starts at zero: a non-zero one was trained and restored.
        lora_b = [v for k, v in saved.items() if "lora_B" in k]
        assert lora_b and all(v.abs().sum() > 0 for v in lora_b)


def _cmd(tmp_path, an4_dirs, conf, *extra):
    config = _write(tmp_path / "train.yaml", conf)
    return train_cmd(config, an4_dirs, tmp_path / "exp", tmp_path / "stats", *extra)


def test_unknown_conf_key_is_named(tmp_path, tiny_tokenizer, an4_dirs, capsys):
    conf = tiny_train_config(tiny_tokenizer)
    conf["projecter"] = "mlp"
    with pytest.raises(SystemExit) as e:
        main(_cmd(tmp_path, an4_dirs, conf))
    assert e.value.code != 0
    assert "projecter" in capsys.readouterr().err


def test_unknown_decoder_conf_key_is_named(tmp_path, tiny_tokenizer, an4_dirs):
    conf = tiny_train_config(tiny_tokenizer, mdoe="lora")
    with pytest.raises(TypeError, match="mdoe"):
        main(_cmd(tmp_path, an4_dirs, conf))


def test_wrong_llm_path_names_decoder_conf(tmp_path, tiny_tokenizer, an4_dirs):
    missing = str(tmp_path / "no_such_llm")
    conf = tiny_train_config(tiny_tokenizer, config=None, model_name_or_path=missing)
    with pytest.raises(FileNotFoundError) as e:
        main(_cmd(tmp_path, an4_dirs, conf))
    assert f"decoder_conf.model_name_or_path={missing!r}" in str(e.value)


def test_token_list_of_another_tokenizer_is_refused(tmp_path, tiny_tokenizer, an4_dirs):
    tokens = (tiny_tokenizer / "tokens.txt").read_text().splitlines()
    short = tmp_path / "tokens.txt"
    short.write_text("\n".join(tokens[:300]) + "\n")
    conf = tiny_train_config(tiny_tokenizer)
    conf["token_list"] = str(short)
    with pytest.raises(ValueError, match="--token_list has 300 tokens but the LLM tokenizer .* has 320"):
        main(_cmd(tmp_path, an4_dirs, conf))
