"""Stage 14: pack_model archives that unpack (Speech2TextLLM.from_pretrained, espnet2's unpack)
into a model that decodes as the original."""

import shutil
import zipfile
from pathlib import Path

import pytest
import soundfile
import yaml

from espnet_speechllm.recipe import pack_model as pm


def _decode(train_config, model_file, wav):
    from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM

    return _hyp(Speech2TextLLM(train_config, model_file, max_new_tokens=8, min_new_tokens=3), wav)


def _hyp(s2t, wav):
    text, _, ids, score = s2t(wav)[0]
    assert ids, "empty hypothesis: the comparison would prove nothing"
    return text, ids, round(score, 4)


@pytest.fixture(scope="module")
def wav(an4_dirs):
    path = (an4_dirs / "test" / "wav.scp").read_text().split()[1]
    return soundfile.read(path, dtype="float32")[0]


def test_round_trip_from_scratch_llm(trained_exp, tiny_tokenizer, wav, tmp_path, monkeypatch):
    """decoder_conf.config + a tokenizer dir outside the recipe dir: the tokenizer is
    packed, the original can go, and the unpacked model decodes as the original."""
    tok = tmp_path / "tok_copy"
    shutil.copytree(tiny_tokenizer, tok)
    config = yaml.safe_load((trained_exp / "config.yaml").read_text())
    config["bpemodel"] = str(tok)
    exp = tmp_path / "recipe" / "exp" / "speechllm_tiny"
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    shutil.copy(trained_exp / "valid.acc.ave.pth", exp / "valid.acc.ave.pth")
    (exp / "RESULTS.md").write_text("# RESULTS\n|dataset|Snt|\n")
    monkeypatch.chdir(tmp_path / "recipe")
    expected = _decode("exp/speechllm_tiny/config.yaml", exp / "valid.acc.ave.pth", wav)

    out = Path("exp/speechllm_tiny/packed.zip")
    pm.main(
        ["--train_config", "exp/speechllm_tiny/config.yaml"]
        + ["--model_file", "exp/speechllm_tiny/valid.acc.ave.pth"]
        + ["--llm_dir", "exp/llm", "--readme", "exp/speechllm_tiny/RESULTS.md"]
        + ["--outpath", str(out)]
    )
    names = set(zipfile.ZipFile(out).namelist())
    assert {
        "meta.yaml",
        "README.md",
        "exp/speechllm_tiny/config.yaml",
        "exp/speechllm_tiny/valid.acc.ave.pth",
        "exp/speechllm_tiny/RESULTS.md",
        "data/token_list/tok_copy/",
        "data/token_list/tok_copy/tokenizer.json",
        "data/token_list/tok_copy/tokens.txt",
    } <= names
    assert not any(n.startswith("exp/llm") for n in names)  # not referenced: not packed
    assert not any(".pack_" in n or n.endswith(".tmp.zip") for n in names)
    assert not list(out.parent.glob(".*"))  # no staging left behind
    card = zipfile.ZipFile(out).read("README.md").decode()
    assert card.startswith("---\n") and "|dataset|Snt|" in card and "packed.zip" in card

    shutil.rmtree(tok)
    from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM

    monkeypatch.chdir(tmp_path)
    kw = dict(max_new_tokens=8, min_new_tokens=3)
    s2t = Speech2TextLLM.from_pretrained(tmp_path / "recipe" / out, "unpacked", **kw)
    assert _hyp(s2t, wav) == expected
    unpacked = yaml.safe_load(Path("unpacked/exp/speechllm_tiny/config.yaml").read_text())
    assert unpacked["bpemodel"] == str(tmp_path / "unpacked/data/token_list/tok_copy")
    # The default place: beside the archive, without .zip; extracted once.
    s2t = Speech2TextLLM.from_pretrained(tmp_path / "recipe" / out, **kw)
    config = tmp_path / "recipe/exp/speechllm_tiny/packed/exp/speechllm_tiny/config.yaml"
    stamp = config.stat().st_mtime_ns
    assert _hyp(Speech2TextLLM.from_pretrained(tmp_path / "recipe" / out, **kw), wav) == expected
    assert config.stat().st_mtime_ns == stamp
    # The extracted directory, and the archive's raw layout (a Hub snapshot of stage 15),
    # from another current directory.
    zipfile.ZipFile(tmp_path / "recipe" / out).extractall(tmp_path / "snapshot")
    monkeypatch.chdir(tmp_path / "recipe")
    for d in (tmp_path / "unpacked", tmp_path / "snapshot"):
        assert _hyp(Speech2TextLLM.from_pretrained(d, **kw), wav) == expected


def test_round_trip_frozen_llm_in_recipe_dir(trained_exp, tiny_llm, wav, tmp_path, monkeypatch):
    """A frozen base LLM at exp/llm (relative, as speechllm.sh passes it): the checkpoint
    lacks its weights, so the LLM dir (config, weights, tokenizer) must be packed."""
    import torch

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    recipe = tmp_path / "recipe"
    shutil.copytree(tiny_llm, recipe / "exp" / "llm")
    (recipe / "exp" / "llm" / "flax_model.msgpack").write_bytes(b"other framework")
    stats = recipe / "exp" / "stats" / "train" / "feats_stats.npz"
    stats.parent.mkdir(parents=True)
    config = yaml.safe_load((trained_exp / "config.yaml").read_text())
    config["decoder_conf"] = {"model_name_or_path": "exp/llm", "mode": "frozen"}
    config["bpemodel"] = "exp/llm"
    config["normalize"] = "global_mvn"
    config["normalize_conf"] = {"stats_file": "exp/stats/train/feats_stats.npz"}
    exp = recipe / "exp" / "speechllm_frozen"
    exp.mkdir()
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(recipe)
    import numpy as np

    n_mels = 80
    np.savez(stats, count=np.array(100.0), sum=np.zeros(n_mels), sum_square=np.full(n_mels, 100.0))
    model, _ = SpeechLLMTask.build_model_from_file("exp/speechllm_frozen/config.yaml", None)
    state = model.state_dict()
    assert not any(k.startswith("decoder.llm.") for k in state)
    torch.save(state, exp / "model.pth")
    expected = _decode("exp/speechllm_frozen/config.yaml", "exp/speechllm_frozen/model.pth", wav)

    packed = pm.pack_model(
        "exp/speechllm_frozen/config.yaml",
        "exp/speechllm_frozen/model.pth",
        "packed/frozen.zip",
        llm_dir="exp/llm",
    )
    assert "exp/llm" in packed and "exp/stats/train/feats_stats.npz" in packed
    names = set(zipfile.ZipFile("packed/frozen.zip").namelist())
    assert {
        "exp/llm/",
        "exp/llm/config.json",
        "exp/llm/model.safetensors",
        "exp/llm/tokenizer.json",
        "exp/stats/train/feats_stats.npz",
        "exp/speechllm_frozen/model.pth",
    } <= names
    assert "exp/llm/flax_model.msgpack" not in names
    assert "README.md" in names and "exp/speechllm_frozen/RESULTS.md" not in names

    shutil.rmtree(recipe / "exp")
    from espnet2.main_funcs.pack_funcs import unpack

    files = unpack(recipe / "packed" / "frozen.zip", tmp_path / "unpacked")
    unpacked = yaml.safe_load(Path(files["train_config"]).read_text())
    assert unpacked["decoder_conf"]["model_name_or_path"] == str(tmp_path / "unpacked/exp/llm")
    assert unpacked["normalize_conf"]["stats_file"] == str(
        tmp_path / "unpacked/exp/stats/train/feats_stats.npz"
    )
    assert _decode(**files, wav=wav) == expected


def test_round_trip_whisper_encoder_lora(trained_exp, tiny_llm, tiny_tokenizer, wav, tmp_path, monkeypatch):
    """A pretrained HF Whisper encoder with LoRA + a frozen LLM: the checkpoint holds
    neither's pretrained weights, so exp/whisper and exp/llm are packed, and the model
    unpacked elsewhere decodes as the original with the recipe's exp/ and data/ gone."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from tiny import TINY_WHISPER

    recipe = tmp_path / "recipe"
    torch.manual_seed(0)
    whisper = WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER))
    whisper.save_pretrained(recipe / "exp" / "whisper")
    shutil.copytree(tiny_llm, recipe / "exp" / "llm")
    (recipe / "data" / "token_list").mkdir(parents=True)
    shutil.copy(tiny_tokenizer / "tokens.txt", recipe / "data" / "token_list" / "tokens.txt")
    config = yaml.safe_load((trained_exp / "config.yaml").read_text())
    config.update(
        frontend=None, frontend_conf={}, input_size=1, normalize=None, normalize_conf={},
        encoder="hf_whisper", encoder_conf={"model_name_or_path": "exp/whisper"},
        decoder_conf={"model_name_or_path": "exp/llm", "mode": "frozen"},
        bpemodel="exp/llm", token_list="data/token_list/tokens.txt",
    )  # fmt: skip
    config["model_conf"].update(encoder_mode="lora", encoder_lora_conf={"r": 2})
    exp = recipe / "exp" / "speechllm_whisper"
    exp.mkdir()
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(recipe)
    model, _ = SpeechLLMTask.build_model_from_file("exp/speechllm_whisper/config.yaml", None)
    speech = torch.from_numpy(wav[:15000])[None]  # the tiny Whisper's window is 1 s
    text = torch.tensor([model.decoder.tokenizer.encode("HELLO WORLD")])
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.01)
    for _ in range(3):  # LoRA's B starts at 0: the adapters change the output from step 2
        loss = model(speech, torch.tensor([15000]), text, torch.tensor([text.size(1)]))[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = model.state_dict()
    assert any(k.startswith("encoder.") and "lora_" in k for k in state)
    assert not any(k.startswith("encoder.") and "lora_" not in k for k in state)
    assert not any(k.startswith("decoder.llm.") for k in state)
    torch.save(state, exp / "model.pth")
    expected = _decode(
        "exp/speechllm_whisper/config.yaml", "exp/speechllm_whisper/model.pth", wav[:15000]
    )

    packed = pm.pack_model(
        "exp/speechllm_whisper/config.yaml", "exp/speechllm_whisper/model.pth", "whisper.zip"
    )
    assert {"exp/whisper", "exp/llm", "data/token_list/tokens.txt"} <= set(packed)
    names = set(zipfile.ZipFile("whisper.zip").namelist())
    assert {"exp/whisper/", "exp/whisper/config.json", "exp/whisper/model.safetensors"} <= names

    shutil.rmtree(recipe / "exp")
    shutil.rmtree(recipe / "data")
    from espnet2.main_funcs.pack_funcs import unpack

    files = unpack(recipe / "whisper.zip", tmp_path / "unpacked")
    unpacked = yaml.safe_load(Path(files["train_config"]).read_text())
    assert unpacked["encoder_conf"]["model_name_or_path"] == str(tmp_path / "unpacked/exp/whisper")
    assert _decode(**files, wav=wav[:15000]) == expected


def _fake_exp(tmp_path: Path, config: dict) -> Path:
    exp = tmp_path / "exp" / "x"
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    (exp / "model.pth").write_bytes(b"weights")
    return exp


def test_hub_ids_stay_and_are_not_packed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exp = _fake_exp(
        tmp_path,
        {
            "decoder_conf": {"model_name_or_path": "Qwen/Qwen2.5-0.5B", "mode": "lora"},
            "bpemodel": "Qwen/Qwen2.5-0.5B",
            "token_list": ["<pad>", "a"],
        },
    )
    pm.pack_model(str(exp / "config.yaml"), str(exp / "model.pth"), "x.zip", llm_dir="exp/llm")
    with zipfile.ZipFile("x.zip") as zf:
        assert sorted(zf.namelist()) == [
            "README.md",
            "exp/x/config.yaml",
            "exp/x/model.pth",
            "meta.yaml",
        ]
        config = yaml.safe_load(zf.read("exp/x/config.yaml"))
    assert config["decoder_conf"]["model_name_or_path"] == "Qwen/Qwen2.5-0.5B"
    assert config["bpemodel"] == "Qwen/Qwen2.5-0.5B"


def test_shared_dir_packed_once_and_weights_left_out_of_tokenizer_dirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for d in ("exp/llm", "data/tok"):
        Path(d).mkdir(parents=True)
        for f in ("config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin"):
            (Path(d) / f).write_text(f)
    exp = _fake_exp(
        tmp_path,
        {
            "decoder_conf": {
                "model_name_or_path": "./exp/llm/",
                "tokenizer_name_or_path": "data/tok",
            },
            "bpemodel": str(tmp_path / "exp" / "llm"),
        },
    )
    pm.pack_model(str(exp / "config.yaml"), str(exp / "model.pth"), "x.zip")
    with zipfile.ZipFile("x.zip") as zf:
        names = set(zf.namelist())
        config = yaml.safe_load(zf.read("exp/x/config.yaml"))
    # safetensors preferred: the .bin duplicate is dropped
    assert {n for n in names if n.startswith("exp/llm")} == {
        "exp/llm/",
        "exp/llm/config.json",
        "exp/llm/tokenizer.json",
        "exp/llm/model.safetensors",
    }
    assert {n for n in names if n.startswith("data/tok")} == {
        "data/tok/",
        "data/tok/config.json",
        "data/tok/tokenizer.json",
    }
    assert config["decoder_conf"]["model_name_or_path"] == "exp/llm"
    assert config["bpemodel"] == "exp/llm"
    assert config["decoder_conf"]["tokenizer_name_or_path"] == "data/tok"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"decoder_conf": {"model_name_or_path": "exp/llm"}}, "the LLM dir does not exist"),
        ({"bpemodel": "exp/some/tokenizer"}, "no such file or directory"),
        (
            {"normalize": "global_mvn", "normalize_conf": {"stats_file": "stats.npz"}},
            "no such file or directory",
        ),
        ({"encoder": "hf_whisper", "encoder_conf": {"model_name_or_path": "exp/whisper/"}},
         "encoder_conf.model_name_or_path=exp/whisper/: no such file"),
    ],
)
def test_missing_local_paths_fail(tmp_path, monkeypatch, capsys, config, message):
    monkeypatch.chdir(tmp_path)
    exp = _fake_exp(tmp_path, config)
    with pytest.raises(SystemExit) as e:
        pm.main(
            ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth")]
            + ["--llm_dir", "exp/llm", "--outpath", "x.zip"]
        )
    assert message in str(e.value)
    assert not Path("x.zip").exists()


def test_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exp = _fake_exp(tmp_path, {})
    with pytest.raises(pm.PackError, match="only .zip"):
        pm.pack_model(str(exp / "config.yaml"), str(exp / "model.pth"), "x.tar.gz")
    with pytest.raises(pm.PackError, match="--readme"):
        pm.pack_model(str(exp / "config.yaml"), str(exp / "model.pth"), "x.zip", readme="R.md")
    with pytest.raises(pm.PackError, match="--model_file"):
        pm.pack_model(str(exp / "config.yaml"), "nope.pth", "x.zip")
