import os
import subprocess
import sys

import pytest

from espnet_speechllm.recipe.config_query import config_tag, query
from shell_env import recipe_env

CONF = """\
encoder: conformer
normalize: null
use_amp: false
compressor: ctc
compressor_conf:
    stride: 1
    ctc: {blank_id: 0}
decoder_conf:
    mode: frozen
    prefix_attention: causal
"""


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "train_x.yaml"
    path.write_text(CONF)
    return str(path)


def test_get_reads_keys_and_nested_keys(conf):
    assert query(conf, "encoder") == "conformer"
    assert query(conf, "normalize") == "none"
    assert query(conf, "use_amp") == "false"
    assert query(conf, "compressor_conf.stride") == "1"
    assert query(conf, "compressor_conf.ctc") == "{blank_id: 0}"
    assert query(conf, "projector") == "" and query(conf, "encoder.x") == ""


def test_get_sees_speechllm_args_overrides_as_espnet_parses_them(conf):
    args = "--encoder hf_whisper --decoder_conf mode=lora --compressor_conf '{stride: 3}' --max_epoch 2"
    assert query(conf, "encoder", args) == "hf_whisper"
    assert query(conf, "decoder_conf.mode", args) == "lora"
    assert query(conf, "decoder_conf.prefix_attention", args) == "causal"  # merged, not replaced
    assert query(conf, "compressor_conf.stride", args) == "3"
    assert query(conf, "compressor_conf.ctc.blank_id", args) == "0"
    assert query(conf, "max_epoch", args) == "2"
    assert query(conf, "normalize", "--normalize=global_mvn") == "global_mvn"


def test_get_rejects_a_stray_word(conf):
    with pytest.raises(ValueError, match="'oops' is not '--key value'"):
        query(conf, "encoder", "--max_epoch 2 oops")


def test_tag_follows_train_links_but_not_links_to_canonical_confs(tmp_path):
    canon = tmp_path / "conf" / "speech_llama"
    tuning = tmp_path / "recipe" / "conf" / "tuning"
    canon.mkdir(parents=True)
    tuning.mkdir(parents=True)
    (canon / "asr_E3.yaml").write_text("{}\n")
    os.symlink("../../../conf/speech_llama/asr_E3.yaml", tuning / "train_speechllm_e3.yaml")
    os.symlink("tuning/train_speechllm_e3.yaml", tuning.parent / "train_speechllm.yaml")
    assert config_tag(str(tuning.parent / "train_speechllm.yaml")) == "speechllm_e3"
    assert config_tag(str(tuning / "train_speechllm_e3.yaml")) == "speechllm_e3"
    assert config_tag(str(canon / "asr_E3.yaml")) == "asr_E3"


def test_cli_prints_the_value_and_fails_with_the_file(conf, tmp_path):
    run = [sys.executable, "-m", "espnet_speechllm.recipe.config_query"]
    out = subprocess.run(run + ["get", conf, "decoder_conf.mode", "--args", "--decoder_conf mode=lora"],
                         capture_output=True, text=True, check=True, env=recipe_env())  # fmt: skip
    assert out.stdout == "lora\n" and out.stderr == ""
    out = subprocess.run(run + ["get", str(tmp_path / "none.yaml"), "encoder"], capture_output=True, text=True,
                         env=recipe_env())  # fmt: skip
    assert out.returncode == 1 and "none.yaml" in out.stderr
