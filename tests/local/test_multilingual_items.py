import multilingual_items
from espeak_synth import read_items
from espnet_speechllm.utils.kaldi_io import read_map
from parallel_lexicon import LANG_NAMES

import pytest


def test_sets_voices_and_targets(tmp_path):
    multilingual_items.main(
        ["--out_dir", str(tmp_path), "--langs", "de,fr,it", "--num_train", "60",
         "--num_dev", "9", "--num_test", "5", "--seed", "3"]
    )
    names = ["train", "dev", "test_de", "test_fr", "test_it"]
    items = {n: read_items(tmp_path / f"{n}.tsv") for n in names}
    assert [len(items[n]) for n in names] == [60, 9, 5, 5, 5]
    # round-robin languages in train; test sets hold the same English sentences
    assert [it.voice.split("+")[0] for it in items["train"][:4]] == ["de", "fr-fr", "it", "de"]
    en = {n: read_map(tmp_path / f"{n}.en") for n in names}
    assert sorted(en["test_de"].values()) == sorted(en["test_it"].values())
    assert not set(en["test_de"].values()) & set(en["train"].values())
    # source text is what is spoken; lang names fill the prompt
    for n in names:
        src = read_map(tmp_path / f"{n}.src")
        lang = read_map(tmp_path / f"{n}.lang")
        for it in items[n]:
            assert src[it.utt_id] == it.text
            code = "fr" if it.voice.startswith("fr-fr") else it.voice.split("+")[0]
            assert lang[it.utt_id] == LANG_NAMES[code]
    # unseen voice variants in dev and test
    variants = lambda n: {it.voice.partition("+")[2] for it in items[n]}
    assert not variants("train") & (variants("dev") | variants("test_de"))
    # seeded
    again = tmp_path / "again"
    multilingual_items.main(
        ["--out_dir", str(again), "--langs", "de,fr,it", "--num_train", "60",
         "--num_dev", "9", "--num_test", "5", "--seed", "3"]
    )
    assert (again / "train.tsv").read_bytes() == (tmp_path / "train.tsv").read_bytes()


def test_bad_language(tmp_path):
    with pytest.raises(ValueError, match="--langs de,nl: choose from de,es,fr,it"):
        multilingual_items.main(["--out_dir", str(tmp_path), "--langs", "de,nl"])
