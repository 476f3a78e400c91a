"""Run the corpus preparation scripts local/data.sh of espeak_en and mini_an4."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile

from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map
from shell_env import recipe_env

ROOT = Path(__file__).parents[2]
MINI_AN4 = (ROOT / "../shared/data/mini_an4").resolve()


def _recipe_copy(tmp_path: Path, corpus: str) -> Path:
    """The recipe's db.sh and local/ in a scratch dir, utils linked to TEMPLATE."""
    src = ROOT / "egs2" / corpus / "speechllm1"
    dst = tmp_path / corpus
    shutil.copytree(src / "local", dst / "local")
    if (src / "db.sh").exists():
        shutil.copy(src / "db.sh", dst / "db.sh")
    (dst / "utils").symlink_to(ROOT / "egs2/TEMPLATE/speechllm1/utils")
    return dst


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    # MAIN_ROOT (set by path.sh in a recipe) locates the shared local/ tools.
    env = recipe_env(MAIN_ROOT=str(ROOT), **env)
    return subprocess.run(
        ["bash", "local/data.sh", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


def test_mini_an4_db_sh_points_at_shared_dir():
    recipe = ROOT / "egs2/mini_an4/speechllm1"
    env = {k: v for k, v in os.environ.items() if k != "MINI_AN4"}
    out = subprocess.run(
        ["bash", "-c", '. ./db.sh && echo "${MINI_AN4}"'],
        cwd=recipe, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    path = out.stdout.strip()
    assert Path(path).is_absolute()
    assert Path(path).resolve() == MINI_AN4


@pytest.mark.skipif(not MINI_AN4.is_dir(), reason="../shared/data/mini_an4 not present")
def test_mini_an4_data_sh(tmp_path):
    recipe = _recipe_copy(tmp_path, "mini_an4")
    out = _run(recipe, MINI_AN4=str(MINI_AN4))
    assert out.returncode == 0, out.stderr
    data = recipe / "data"
    ids = {}
    for name in ("train_nodev", "train_dev", "test"):
        validate(data / name, need=["wav.scp", "text", "utt2spk", "spk2utt"])
        ids[name] = list(read_map(data / name / "text"))
    assert ids == {
        "train_nodev": ["fash-an253-b", "fbbh-cen8-b", "mwhw-an152-b", "mwhw-cen8-b"],
        "train_dev": ["fash-an251-b"],
        "test": ["fcaw-cen8-b", "mmxg-cen8-b"],
    }
    text = read_map(data / "train_nodev" / "text")
    assert text["fbbh-cen8-b"] == "MARCH THIRD NINETEEN TWENTY EIGHT"
    assert (
        read_map(data / "train_nodev" / "spk2utt")["mwhw"] == "mwhw-an152-b mwhw-cen8-b"
    )
    wav = read_map(data / "test" / "wav.scp")["fcaw-cen8-b"]
    assert wav == str(MINI_AN4 / "wav16k" / "fcaw-cen8-b.wav")
    assert soundfile.info(wav).samplerate == 16000


def test_mini_an4_data_sh_missing_corpus(tmp_path):
    recipe = _recipe_copy(tmp_path, "mini_an4")
    out = _run(recipe, MINI_AN4=str(tmp_path / "nowhere"))
    assert out.returncode == 1
    assert "nowhere/utterances.tsv not found" in out.stderr
    assert "MINI_AN4 in db.sh" in out.stderr


@pytest.mark.skipif(
    not all(shutil.which(b) for b in ("bible", "espeak-ng", "sox")),
    reason="needs apt packages bible-kjv, espeak-ng, sox",
)
def test_espeak_en_data_sh_small_build(tmp_path):
    recipe = _recipe_copy(tmp_path, "espeak_en")
    opts = (
        "--num_train 12 --num_dev 4 --num_test 4 --num_train_spk 3 --num_dev_spk 2"
        " --num_test_spk 2 --nj 2"
    ).split()
    out = _run(recipe, *opts)
    assert out.returncode == 0, out.stderr
    texts = {}
    for name, n_utt, n_spk in (("train", 12, 3), ("dev", 4, 2), ("test", 4, 2)):
        validate(recipe / "data" / name, need=["wav.scp", "text", "utt2spk", "spk2utt"])
        texts[name] = set(read_map(recipe / "data" / name / "text").values())
        assert len(texts[name]) == n_utt
        assert len(read_map(recipe / "data" / name / "spk2utt")) == n_spk
    assert not texts["train"] & (texts["dev"] | texts["test"])
    wav_scp = recipe / "data" / "test" / "wav.scp"
    before = wav_scp.read_text()
    assert str(recipe / "downloads" / "espeak_en" / "wav" / "test") in before
    # same settings: skipped; another seed: rebuilt with other sentences
    out = _run(recipe, *opts)
    assert "skipping" in out.stderr and wav_scp.read_text() == before
    out = _run(recipe, *opts, "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert wav_scp.read_text() != before


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng or sox not installed",
)
@pytest.mark.parametrize("corpus,target", [("espeak_st", "en"), ("espeak_ml", "src")])
def test_espeak_multilingual_data_sh(tmp_path, corpus, target):
    recipe = _recipe_copy(tmp_path, corpus)
    opts = ["--target", target, "--langs", "de,fr", "--num_train", "6", "--num_dev", "2",
            "--num_test", "2", "--num_spk", "2,1,1", "--seed", "5"]  # fmt: skip
    out = _run(recipe, *opts)
    assert out.returncode == 0, out.stderr
    data = recipe / "data"
    sets = ["train", "dev", "test_de", "test_fr"]
    for name in sets:
        validate(data / name, need=["wav.scp", "text", "utt2spk", "spk2utt", "utt2lang"])
    items = recipe / "downloads/espeak_multi/items"
    text = read_map(data / "test_fr" / "text")
    lang = read_map(data / "test_fr" / "utt2lang")
    assert set(lang.values()) == {"French"}
    if target == "en":  # English target, spoken French kept as text.src
        assert text == read_map(items / "test_fr.en")
        assert read_map(data / "test_fr" / "text.src") == read_map(items / "test_fr.src")
        assert sorted(text.values()) == sorted(read_map(data / "test_de" / "text").values())
    else:
        assert text == read_map(items / "test_fr.src")
        assert not (data / "test_fr" / "text.src").exists()
    again = _run(recipe, *opts)
    assert again.returncode == 0 and "already built" in again.stderr
    bad = _run(recipe, "--target", "xx")
    assert bad.returncode != 0 and "--target must be en or src" in bad.stderr


@pytest.mark.skipif(
    not all(shutil.which(b) for b in ("bible", "espeak-ng", "sox"))
    or not Path("/usr/share/games/fortunes/fortunes").is_file()
    or not Path("/usr/share/games/fortunes/wisdom").is_file(),
    reason="needs apt packages bible-kjv, espeak-ng, sox, fortunes-min, fortunes, dict-devil",
)
def test_espeak_en_data_sh_optional_sets_leave_the_default_sets_alone(tmp_path):
    recipe = _recipe_copy(tmp_path, "espeak_en")
    opts = ("--num_train 12 --num_dev 4 --num_test 4 --num_train_spk 3 --num_dev_spk 2"
            " --num_test_spk 2 --nj 2").split()
    assert _run(recipe, *opts).returncode == 0
    data = recipe / "data"
    before = {(d, f): (data / d / f).read_bytes()
              for d in ("train", "dev", "test") for f in ("wav.scp", "text", "utt2spk")}
    extras = ("--nonspeech true --num_nonspeech_train 6 --num_nonspeech_test 8"
              " --nonspeech_dev true --num_nonspeech_dev 5"
              " --nonspeech_ratio 0.5 --augment true --num_aug_noises 2 --num_aug_rirs 2"
              " --ood true --num_ood 4 --real true --extra_text true --num_extra 5"
              " --short true --num_short_train 6 --num_short_dev 3"
              " --mix true --mix_nonspeech_ratio 0.25"
              " --flite true --num_flite_short 4 --num_flite_sent 3 --num_flite_spk 2").split()
    out = _run(recipe, *opts, *extras)
    assert out.returncode == 0, out.stderr
    assert {k: (data / k[0] / k[1]).read_bytes() for k in before} == before
    for name in ("nonspeech_train", "test_nonspeech", "train_nonspeech0.5", "test_ood",
                 "test_real", "train_extra", "train_short", "dev_short"):
        validate(data / name, need=["wav.scp", "text", "utt2spk", "spk2utt"])
    assert set(read_map(data / "test_nonspeech" / "text").values()) == {"<nospeech>"}
    dev_ns = read_map(data / "dev_nonspeech" / "utt2spk")
    validate(data / "dev_nonspeech", need=["wav.scp", "text", "utt2spk", "spk2utt"])
    assert len(dev_ns) == 5 and set(read_map(data / "dev_nonspeech" / "text").values()) == {"<nospeech>"}
    assert not set(dev_ns) & (set(read_map(data / "nonspeech_train" / "text"))
                              | set(read_map(data / "test_nonspeech" / "text")))  # held out
    assert set(dev_ns.values()) <= set(read_map(data / "nonspeech_train" / "utt2spk").values())
    test_kinds = set(read_map(data / "test_nonspeech" / "utt2spk").values())
    assert {"nonspeech_brown", "nonspeech_chord", "nonspeech_clicks"} <= test_kinds
    assert not {"nonspeech_brown", "nonspeech_chord"} & set(
        read_map(data / "nonspeech_train" / "utt2spk").values())
    mixed = read_map(data / "train_nonspeech0.5" / "text")
    assert len(mixed) == 12 + 6 and sum(t == "<nospeech>" for t in mixed.values()) == 6
    ood = set(read_map(data / "test_ood" / "text").values())
    assert len(ood) == 4 and not ood & set(read_map(data / "train" / "text").values())
    real = read_map(data / "test_real" / "text")
    assert len(real) == 7 and real["fcaw-cen8-b"] == "ELEVEN TWENTY SEVEN FIFTY SEVEN"
    extra = read_map(data / "train_extra" / "text")
    assert len(extra) == 5 and all("-x" in u for u in extra)
    assert not set(extra.values()) & (ood | set(read_map(data / "train" / "text").values()))
    short = read_map(data / "train_short" / "text")
    assert len(short) == 6 and all("-s" in u for u in short)
    assert all(1 <= len(t.split()) <= 2 for t in short.values())
    train_words = {w for t in [*read_map(data / "train" / "text").values(), *extra.values()]
                   for w in t.split()}
    assert {w for t in short.values() for w in t.split()} <= train_words
    # train_mix: train + train_extra + train_short + round(0.25 x 23) non-speech clips
    mix = read_map(data / "train_mix" / "text")
    speech = {**read_map(data / "train" / "text"), **extra, **short}
    assert len(mix) == 23 + 6 and {u: t for u, t in mix.items() if u in speech} == speech
    assert sum(t == "<nospeech>" for t in mix.values()) == 6
    validate(data / "train_mix", need=["wav.scp", "text", "utt2spk", "spk2utt"])
    flite = read_map(data / "train_flite" / "text")
    validate(data / "train_flite", need=["wav.scp", "text", "utt2spk", "spk2utt", "utt2dur"])
    assert len(flite) == 4 + 3 and all(u.startswith("flite") for u in flite)
    assert sum("-fs" in u for u in flite) == 4 and not set(flite.values()) & ood
    assert not set(flite) & set(mix)  # an extra set: train_mix is unchanged by it
    dev_short = read_map(data / "dev_short" / "text")
    assert len(dev_short) == 3 and all("-sd" in u for u in dev_short)
    assert len(read_map(data / "augment" / "noise.scp")) == 2
    assert len(read_map(data / "augment" / "rir.scp")) == 2
    bad = _run(recipe, *opts, "--nonspeech_ratio", "0.1", "--data", "data2")
    assert bad.returncode != 0 and "--nonspeech_ratio 0.1 needs --nonspeech true" in bad.stderr
    bad = _run(recipe, *opts, "--mix", "true", "--data", "data3")
    assert bad.returncode != 0 and "--mix_nonspeech_ratio 0.1 needs --nonspeech true" in bad.stderr
