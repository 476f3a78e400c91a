import pytest

from espnet_speechllm.utils.hf_local import check_local, is_hub_id


@pytest.mark.parametrize(
    "value, expected",
    [
        ("gpt2", True),
        ("Qwen/Qwen2.5-0.5B", True),
        ("./exp/llm", False),
        ("exp/llm/", False),
        ("exp/some/tokenizer", False),
        ("/abs/path", False),
        ("a--b", False),
    ],
)
def test_is_hub_id(value, expected):
    assert is_hub_id(value) is expected


def test_check_local_names_the_key(tmp_path):
    check_local(str(tmp_path), True, "encoder_conf.model_name_or_path")  # a dir passes
    check_local("not/cached", False, "decoder_conf.model_name_or_path")  # download allowed
    with pytest.raises(FileNotFoundError, match=r"encoder_conf.model_name_or_path='/x/y'.*"
                       r"encoder_conf.local_files_only=false"):  # fmt: skip
        check_local("/x/y", True, "encoder_conf.model_name_or_path")
    with pytest.raises(FileNotFoundError, match="'not/cached' is neither a local directory nor a hub id"):
        check_local("not/cached", True, "decoder_conf.model_name_or_path")
