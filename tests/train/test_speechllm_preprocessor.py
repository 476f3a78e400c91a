import numpy as np
import pytest

from espnet_speechllm.train.speechllm_preprocessor import SpeechLLMPreprocessor


def test_preprocessor_tokenizes_text_and_src_text_and_encodes_lang(tiny_tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    token_list = [tok.convert_ids_to_tokens(i) for i in range(len(tok))]
    pre = SpeechLLMPreprocessor(
        train=False, token_type="hugging_face", token_list=token_list,
        bpemodel=str(tiny_tokenizer),
    )
    out = pre("u1", {"text": "THE CAT", "src_text": "THE DOG", "lang": " German "})
    assert out["text"].tolist() == tok("THE CAT", add_special_tokens=False).input_ids
    assert out["src_text"].tolist() == tok("THE DOG", add_special_tokens=False).input_ids
    assert out["lang"].dtype == np.int64 and "".join(map(chr, out["lang"])) == "German"
    with pytest.raises(ValueError, match="utterance u2: empty 'lang'"):
        pre("u2", {"text": "THE", "lang": " "})
