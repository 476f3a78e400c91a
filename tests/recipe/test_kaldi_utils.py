"""utils/*.pl and utils/*.sh with Kaldi's command lines (our Python behind them), run as a
Kaldi recipe runs them: through the recipe template's utils/ dir."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map, write_map

ROOT = Path(__file__).resolve().parents[2]
UTILS = ROOT / "egs2" / "TEMPLATE" / "speechllm1" / "utils"
UTTS = {
    "spkA-1": ("HELLO WORLD", "spkA", 1600),
    "spkA-2": ("GOOD MORNING", "spkA", 800),
    "spkA-3": ("HI", "spkA", 2400),
    "spkB-1": ("YES", "spkB", 400),
    "spkB-2": ("NO", "spkB", 3200),
}


def run(cmd: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return subprocess.run(["bash", "-c", cmd], input=stdin, capture_output=True, text=True,
                          env=env, cwd=UTILS.parent)  # fmt: skip


def test_utt2spk_and_spk2utt_convert_both_ways_from_stdin_or_file(tmp_path):
    out = run("utils/utt2spk_to_spk2utt.pl", stdin="u2 s1\nu1 s1\nu3 s2\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "s1 u1 u2\ns2 u3\n"
    (tmp_path / "spk2utt").write_text(out.stdout)
    out = run(f"perl utils/spk2utt_to_utt2spk.pl {tmp_path / 'spk2utt'}")
    assert out.stdout == "u1 s1\nu2 s1\nu3 s2\n"
    out = run("utils/utt2spk_to_spk2utt.pl", stdin="u1\n")
    assert out.returncode == 1 and "stdin:1: expected '<id> <value>...'" in out.stderr


def test_filter_scp_keeps_or_excludes_by_field(tmp_path):
    (tmp_path / "ids").write_text("b\nc extra\n")
    (tmp_path / "in.scp").write_text("a x\nb y\nc z\n")
    assert run(f"utils/filter_scp.pl {tmp_path}/ids {tmp_path}/in.scp").stdout == "b y\nc z\n"
    out = run(f"utils/filter_scp.pl --exclude {tmp_path}/ids {tmp_path}/in.scp")
    assert out.stdout == "a x\n"
    (tmp_path / "utt2spk").write_text("u1 a\nu2 b\nu3 c\n")
    out = run(f"cat {tmp_path}/utt2spk | utils/filter_scp.pl -f 2 {tmp_path}/ids")
    assert out.stdout == "u2 b\nu3 c\n"


def test_copy_data_dir_with_prefixes_renames_utts_and_speakers(make_data_dir, tmp_path):
    src = make_data_dir(UTTS)
    out = run(f"utils/copy_data_dir.sh --utt-prefix sp0.9- --spk-prefix sp0.9- {src} {tmp_path / 'cp'}")
    assert out.returncode == 0, out.stderr
    cp = tmp_path / "cp"
    validate(cp)
    assert sorted(read_map(cp / "text")) == sorted(f"sp0.9-{u}" for u in UTTS)
    assert read_map(cp / "utt2spk")["sp0.9-spkA-1"] == "sp0.9-spkA"
    assert read_map(cp / "spk2utt")["sp0.9-spkB"] == "sp0.9-spkB-1 sp0.9-spkB-2"
    assert read_map(cp / "wav.scp")["sp0.9-spkA-1"] == read_map(src / "wav.scp")["spkA-1"]


@pytest.mark.parametrize(
    "opts, expected",
    [
        ("{src} 2 {dst}", ["spkA-1", "spkA-3"]),  # evenly spaced over the sorted ids
        ("--first {src} 2 {dst}", ["spkA-1", "spkA-2"]),
        ("--last {src} 2 {dst}", ["spkB-1", "spkB-2"]),
        ("--shortest {src} 2 {dst}", ["spkA-2", "spkB-1"]),  # 800 and 400 samples
        ("--per-spk {src} 1 {dst}", ["spkA-1", "spkB-1"]),
        ("--utt-list {list} {src} {dst}", ["spkA-3", "spkB-2"]),
        ("--spk-list {spks} {src} {dst}", ["spkB-1", "spkB-2"]),
    ],
)
def test_subset_data_dir_forms(make_data_dir, tmp_path, opts, expected):
    src = make_data_dir(UTTS)
    (tmp_path / "list").write_text("spkA-3\nspkB-2\n")
    (tmp_path / "spks").write_text("spkB\n")
    dst = tmp_path / "sub"
    fmt = dict(src=src, dst=dst, list=tmp_path / "list", spks=tmp_path / "spks")
    out = run("utils/subset_data_dir.sh " + opts.format(**fmt))
    assert out.returncode == 0, out.stderr
    assert sorted(read_map(dst / "text")) == expected
    validate(dst)


def test_combine_data_checks_extra_files_and_fixes(make_data_dir, tmp_path):
    a = make_data_dir({k: v for k, v in UTTS.items() if k.startswith("spkA")}, "a")
    b = make_data_dir({k: v for k, v in UTTS.items() if k.startswith("spkB")}, "b")
    (a / "utt2lang").write_text("spkA-1 en\nspkA-2 en\nspkA-3 en\n")
    out = run(f"utils/combine_data.sh --extra-files utt2lang {tmp_path / 'ab'} {a} {b}")
    assert out.returncode == 1 and f"--extra-files utt2lang: missing in {b}" in out.stderr
    out = run(f"utils/combine_data.sh {tmp_path / 'ab'} {a} {b}")
    assert out.returncode == 0, out.stderr
    validate(tmp_path / "ab")
    assert sorted(read_map(tmp_path / "ab" / "text")) == sorted(UTTS)
    assert not (tmp_path / "ab" / "utt2lang").exists()  # not in every source: left out


def test_validate_data_dir_takes_kaldis_flags(make_data_dir):
    d = make_data_dir(UTTS)
    (d / "text").unlink()
    out = run(f"utils/validate_data_dir.sh --no-feats {d}")
    assert out.returncode == 1 and f"{d / 'text'}: required file missing" in out.stderr
    out = run(f"utils/validate_data_dir.sh --no-feats --no-text --non-print --no-spk-sort {d}")
    assert out.returncode == 0, out.stderr
    assert f"{d} is OK" in out.stdout
    out = run(f"utils/validate_data_dir.sh {d} --need wav.scp")  # our own form still works
    assert out.returncode == 0, out.stderr


def test_fix_data_dir_takes_kaldis_flags_and_drops_what_is_broken(make_data_dir):
    d = make_data_dir(UTTS)
    write_map(d / "text", {**read_map(d / "text"), "spkA-2": ""})
    out = run(f"utils/fix_data_dir.sh --utt-extra-files utt2lang {d}")
    assert out.returncode == 0, out.stderr
    assert "kept 4, dropped 1" in out.stdout
    validate(d)
    assert "spkA-2" not in read_map(d / "wav.scp")


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python3").exists(), reason="needs the checkout's .venv")
def test_sh_tools_run_from_a_shell_without_path_sh(tmp_path):
    """Called before `. ./path.sh` (no .venv on PATH, no PYTHONPATH), as a user types it:
    before, python3 was the system one and failed with 'No module named espnet_speechllm'."""
    write_map(tmp_path / "text", {"u1": "HI"})
    write_map(tmp_path / "utt2spk", {"u1": "s1"})
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    out = subprocess.run(["bash", "-c", f"utils/fix_data_dir.sh {tmp_path}"], capture_output=True,
                         text=True, env=env, cwd=UTILS.parent)  # fmt: skip
    assert "No module named" not in out.stderr, out.stderr
    assert (tmp_path / "spk2utt").read_text() == "s1 u1\n"
