import argparse
import logging
import re
import subprocess
import sys

from espnet_speechllm.utils.cli import ESPNET_LOG_FORMAT, command_line, parse_args
from shell_env import recipe_env


def test_parse_args_prints_the_command_line_and_adds_log_level(capsys, monkeypatch):
    monkeypatch.setattr(logging.root, "handlers", [])  # let basicConfig act
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--text")
    args = parse_args(parser, ["--text", "a b", "--log_level", "debug"])
    assert (args.text, args.log_level) == ("a b", "DEBUG")
    assert capsys.readouterr().err == "tool --text 'a b' --log_level debug\n"
    assert logging.root.level == logging.DEBUG
    assert logging.root.handlers[0].formatter._fmt == ESPNET_LOG_FORMAT


def test_command_line_defaults_to_sys_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["-m", "x;y"])
    assert command_line() == f"{sys.executable} -m 'x;y'"


def test_a_main_logs_in_espnet_format(tmp_path):
    (tmp_path / "text").write_text("u1 a\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_speechllm.recipe.kaldi_dir", "split", str(tmp_path / "text"), "2", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=recipe_env(),  # this checkout, not whichever one is pip-installed
    )
    assert proc.returncode == 1
    first, *_ = proc.stderr.splitlines()
    assert first.endswith(f"recipe/kaldi_dir.py split {tmp_path / 'text'} 2 {tmp_path / 'p'}"), first
    assert "cannot split 1 line(s) into 2 part(s)" in proc.stderr


def test_log_record_format(capsys, monkeypatch):
    monkeypatch.setattr(logging.root, "handlers", [])
    parse_args(argparse.ArgumentParser(prog="t"), [])
    logging.getLogger("x").info("hello")
    line = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \(test_cli:\d+\) INFO: hello", line), line
