"""The espeak_en decode confs parse as speechllm_inference options (conf = CLI)."""

from pathlib import Path

import pytest
import yaml

from espnet_speechllm.bin.speechllm_inference import get_parser

CONF = Path(__file__).parents[2] / "egs2/espeak_en/speechllm1/conf"
REQUIRED = ["--output_dir", "o", "--train_config", "c", "--model_file", "m"]
REQUIRED += ["--data_path_and_name_and_type", "d,speech,sound"]


@pytest.mark.parametrize("path", sorted(CONF.glob("decode_speechllm*.yaml")), ids=lambda p: p.name)
def test_decode_conf_keys_are_inference_options(path):
    args = get_parser().parse_args(["--config", str(path)] + REQUIRED)
    for key, value in yaml.safe_load(path.read_text()).items():
        assert getattr(args, key) == value, (path.name, key)


def test_noinsert_conf_constrains_what_the_beam_conf_leaves_open():
    on = yaml.safe_load((CONF / "decode_speechllm_noinsert.yaml").read_text())
    off = yaml.safe_load((CONF / "decode_speechllm_beam_llm.yaml").read_text())
    assert on["beam_size"] == off["beam_size"] > 1  # length_penalty only acts on beams
    assert on["no_repeat_ngram_size"] > 0 == off["no_repeat_ngram_size"]
    assert on["length_penalty"] < off["length_penalty"]
    assert "ctc_weight" not in on  # LLM only: decodes models without a CTC head too
