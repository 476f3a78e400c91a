"""An LLM directory that ships its own Python code: building it never runs that code."""

import json
import shutil

from transformers import LlamaForCausalLM

from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder


def test_auto_map_code_in_the_llm_dir_is_never_imported(tiny_llm, tmp_path):
    """trust_remote_code stays off: transformers would import modeling_evil.py (and
    create the marker) if the model or tokenizer were loaded with it on."""
    llm = tmp_path / "llm"
    shutil.copytree(tiny_llm, llm)
    marker = tmp_path / "pwned"
    for name in ("modeling_evil.py", "tokenization_evil.py"):
        (llm / name).write_text(
            f"open({str(marker)!r}, 'w').close()\n"
            "from transformers import LlamaForCausalLM as EvilForCausalLM\n"
            "from transformers import PreTrainedTokenizerFast as EvilTokenizer\n"
        )
    config = json.loads((llm / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
    (llm / "config.json").write_text(json.dumps(config))
    tok_config = json.loads((llm / "tokenizer_config.json").read_text())
    tok_config["auto_map"] = {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}
    (llm / "tokenizer_config.json").write_text(json.dumps(tok_config))

    for mode in ("full", "frozen", "lora"):
        dec = HFLLMDecoder(model_name_or_path=str(llm), mode=mode)
        assert isinstance(dec.causal_lm, LlamaForCausalLM), mode
    assert not marker.exists()
