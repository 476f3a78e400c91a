import math

import pytest
import torch
import yaml

from espnet_speechllm.bin.lm_calc_perplexity import main
from tiny import TINY_LLAMA

TEXTS = {"a": "HELLO WORLD", "b": "GOOD DAY TO YOU", "c": "", "d": "THE AUDIO"}


@pytest.fixture(scope="module")
def lm(tmp_path_factory, tiny_tokenizer):
    """The same random LM as an ESPnet result (config.yaml + .pth) and as an HF dir."""
    from espnet2.utils.yaml_no_alias_safe_dump import yaml_no_alias_safe_dump

    from espnet_speechllm.tasks.causal_lm import CausalLMTask

    d = tmp_path_factory.mktemp("lm")
    conf = dict(decoder_conf=dict(config=dict(TINY_LLAMA), mode="full"))
    (d / "train.yaml").write_text(yaml.safe_dump(conf))
    args = CausalLMTask.get_parser().parse_args(
        ["--config", str(d / "train.yaml"), "--bpemodel", str(tiny_tokenizer)]
        + ["--token_list", str(tiny_tokenizer / "tokens.txt")]
    )
    torch.manual_seed(0)
    model = CausalLMTask.build_model(args)
    (d / "config.yaml").write_text(yaml_no_alias_safe_dump(vars(args)))
    torch.save(model.state_dict(), d / "model.pth")
    model.decoder.causal_lm.save_pretrained(d / "hf")
    model.decoder.tokenizer.save_pretrained(d / "hf")
    (d / "text").write_text("".join(f"{k} {t}\n" for k, t in TEXTS.items()))
    return d


def _reference_ppl(hf_dir) -> float:
    """Straight from HF: sum of -log p(x + </s> | <s> ...) over all tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(hf_dir)
    tok = AutoTokenizer.from_pretrained(hf_dir)
    nll, n = 0.0, 0
    for text in TEXTS.values():
        x = tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logp = model(input_ids=torch.tensor([[1] + x])).logits.log_softmax(-1)[0]
        nll -= float(logp[torch.arange(len(x) + 1), torch.tensor(x + [2])].sum())
        n += len(x) + 1
    return math.exp(nll / n)


def test_both_model_sources_match_the_hf_reference(lm, tmp_path, capsys):
    ref = _reference_ppl(lm / "hf")
    espnet = main(
        ["--text", str(lm / "text"), "--output_dir", str(tmp_path / "a")]
        + ["--train_config", str(lm / "config.yaml"), "--batch_size", "1"]
        + ["--model_file", str(lm / "model.pth")]
    )
    hf = main(
        ["--text", str(lm / "text"), "--output_dir", str(tmp_path / "b")]
        + ["--batch_size", "3"]
        + ["--model_name_or_path", str(lm / "hf")]
    )
    assert espnet == pytest.approx(ref, rel=1e-5) and hf == pytest.approx(ref, rel=1e-5)
    assert float((tmp_path / "a/ppl").read_text()) == pytest.approx(ref, rel=1e-5)
    rows = (tmp_path / "b/utt2ppl").read_text().split("\n")[:-1]
    assert [r.split()[0] for r in rows] == list(TEXTS)
    assert "perplexity" in capsys.readouterr().out


def test_needs_exactly_one_model_source(lm, tmp_path):
    base = ["--text", str(lm / "text"), "--output_dir", str(tmp_path)]
    for extra in ([], ["--train_config", str(lm / "config.yaml")]):
        with pytest.raises(SystemExit) as e:
            main(base + extra)
        assert e.value.code == 2
