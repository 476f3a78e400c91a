import numpy as np
import pytest

from espnet_speechllm.bin.speechllm_alignment import main


def _args(exp, an4_dirs, out, *extra):
    return [
        "--train_config", str(exp / "config.yaml"),
        "--model_file", str(exp / "valid.acc.ave.pth"),
        "--data_path_and_name_and_type", f"{an4_dirs / 'test'}/wav.scp,speech,sound",
        "--data_path_and_name_and_type", f"{an4_dirs / 'test'}/text,text,text",
        "--output_dir", str(out), *extra,
    ]  # fmt: skip


def test_alignment_command_writes_rows_pngs_and_summary(trained_exp, an4_dirs, tmp_path, capsys):
    out = tmp_path / "align"
    main(_args(trained_exp, an4_dirs, out, "--num_plots", "1"))
    rows = [line.split("\t") for line in (out / "alignment.tsv").read_text().splitlines()]
    assert rows[0][:3] == ["utt_id", "audio_positions", "text_tokens"]
    keys = [line.split()[0] for line in (an4_dirs / "test" / "text").read_text().splitlines()]
    assert [r[0] for r in rows[1:]] == keys
    for r in rows[1:]:
        assert int(r[1]) >= 1 and int(r[2]) >= 2
        assert 0.0 <= float(r[3]) <= 1.0
        assert -1.0 <= float(r[5]) <= 1.0
    assert [p.name for p in (out / "png").iterdir()] == [f"{keys[0]}.png"]
    summary = dict(line.split("\t") for line in (out / "summary.txt").read_text().splitlines())
    assert float(summary["n_utts"]) == len(keys)
    mean_nd = np.mean([float(r[3]) for r in rows[1:]])
    assert float(summary["nondecreasing"]) == pytest.approx(mean_nd, abs=1e-3)
    assert "mean nondecreasing" in capsys.readouterr().out


def test_alignment_needs_the_transcripts(trained_exp, an4_dirs, tmp_path):
    args = _args(trained_exp, an4_dirs, tmp_path / "a")
    del args[6:8]  # drop the text entry
    with pytest.raises(ValueError, match="'text' entry"):
        main(args)
