"""Importing ESPnet through our package makes no nltk download (no network at import)."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_g2p_en_import_makes_no_nltk_download(tmp_path):
    # Fresh interpreter: the test session has imported g2p_en already. An empty NLTK_DATA
    # makes g2p_en's nltk.data.find() fail, so unguarded it would call nltk.download().
    code = textwrap.dedent(
        """
        import logging
        import nltk
        calls = []
        def fake_download(*args, **kwargs):
            calls.append(args)
            return False
        nltk.download = fake_download
        import espnet_speechllm
        import g2p_en
        assert calls == [], calls
        assert not logging.root.handlers  # ESPnet's basicConfig(level=INFO) still applies
        assert nltk.download is fake_download  # restored after the guarded import
        nltk.download("cmudict")  # the user's own call still goes through
        assert calls == [("cmudict",)], calls
        print("ok")
        """
    )
    env = {"NLTK_DATA": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_print_config_stdout_is_yaml_alone(tmp_path):
    """`speechllm_train --print_config > conf.yaml` gives a loadable YAML file: ESPnet's
    import-time "Failed to import Flash Attention" print goes to stderr."""
    import importlib.util

    import yaml

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "espnet_speechllm.bin.speechllm_train", "--print_config"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert not out.stdout.startswith("Failed"), out.stdout[:200]
    config = yaml.safe_load(out.stdout)
    assert config["decoder"] == "hf_llm" and "encoder_conf" in config
    if importlib.util.find_spec("flash_attn") is None:
        assert "Failed to import Flash Attention" in out.stderr
