"""Stage 9's data and export: ESPnet's CTC classes are our compressor's (token t -> t + 1)."""

import pytest
import torch

from espnet_speechllm.recipe.ctc_pretrain import (
    CTCPretrainError,
    ctc_token_list,
    export,
    main,
)
from espnet_speechllm.utils.kaldi_io import read_token_list


def test_espnet_word_ids_of_the_prepared_text_are_llm_ids_plus_one(tmp_path, tiny_tokenizer):
    from espnet2.train.preprocessor import CommonPreprocessor
    from transformers import AutoTokenizer

    text = tmp_path / "text"
    text.write_text("u1 TRANSCRIBE THE AUDIO\nu2\tA B C\nu3 \n")  # Kaldi: any whitespace
    out, ctc_list = tmp_path / "d" / "train_tokens", tmp_path / "tokens_ctc.txt"
    main(["prepare", "--bpemodel", str(tiny_tokenizer), "--token_list",
          str(tiny_tokenizer / "tokens.txt"), "--out_token_list", str(ctc_list), str(text), str(out)])  # fmt: skip
    tokens = read_token_list(str(tiny_tokenizer / "tokens.txt"))
    classes = read_token_list(str(ctc_list))
    assert classes[0] == "<blank>" and classes[1 : len(tokens) + 1] == tokens
    assert len(classes) == len(tokens) + 1 + ("<unk>" not in tokens)

    # What stage 9's asr_train does with it: ESPnet's own word tokenizer + token list.
    pre = CommonPreprocessor(train=False, token_type="word", token_list=str(ctc_list))
    hf = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    lines = dict(line.partition(" ")[::2] for line in out.read_text().splitlines())
    for utt, ref in (("u1", "TRANSCRIBE THE AUDIO"), ("u2", "A B C"), ("u3", "")):
        ids = pre(utt, {"text": lines[utt]})["text"].tolist()
        want = hf(ref, add_special_tokens=False)["input_ids"]
        assert ids == [t + 1 for t in want] and 0 not in ids


def test_export_keeps_encoder_and_cuts_the_head_to_blank_plus_llm_tokens(tmp_path):
    state = {"encoder.w": torch.ones(2), "ctc.ctc_lo.weight": torch.arange(12.0).view(6, 2),
             "ctc.ctc_lo.bias": torch.arange(6.0), "decoder.x": torch.zeros(1)}  # fmt: skip
    torch.save(state, tmp_path / "m.pth")
    export(str(tmp_path / "m.pth"), num_llm_tokens=4, out=str(tmp_path / "init.pth"))
    got = torch.load(tmp_path / "init.pth")
    assert set(got) == {"encoder.w", "ctc.ctc_lo.weight", "ctc.ctc_lo.bias"}
    assert got["ctc.ctc_lo.bias"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # <unk> (class 5) dropped
    with pytest.raises(CTCPretrainError, match="3 classes, fewer than the 5"):
        torch.save({"ctc.ctc_lo.weight": torch.zeros(3, 2), "ctc.ctc_lo.bias": torch.zeros(3)},
                   tmp_path / "small.pth")  # fmt: skip
        export(str(tmp_path / "small.pth"), num_llm_tokens=4, out=str(tmp_path / "x.pth"))


def test_tokens_espnet_cannot_read_are_named():
    with pytest.raises(CTCPretrainError, match=r"LLM token 1 \('a b'\)"):
        ctc_token_list(["x", "a b"])
    with pytest.raises(CTCPretrainError, match="repeats"):
        ctc_token_list(["x", "x"])
    assert ctc_token_list(["<unk>", "x"]) == ["<blank>", "<unk>", "x"]
