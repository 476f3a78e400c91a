import numpy as np
import pytest
import torch

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


def test_nonspeech_marker_becomes_zero_tokens_and_trains_an_eos_only_target(tmp_path, tiny_tokenizer):
    """The data path of a non-speech utterance: text ``<nospeech>`` -> [] -> target [eos]."""
    import yaml

    from espnet_speechllm.asr.espnet_model import _append_eos
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from tiny import tiny_train_config

    conf = tmp_path / "train.yaml"
    conf.write_text(yaml.safe_dump(tiny_train_config(tiny_tokenizer)))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(conf), "--output_dir", "x"])
    pre = SpeechLLMTask.build_preprocess_fn(args, train=True)
    rng = np.random.default_rng(0)
    speech = {u: rng.standard_normal(n).astype(np.float32) for u, n in (("ns", 6000), ("sp", 7000))}
    items = [
        ("ns", pre("ns", {"speech": speech["ns"], "text": " <nospeech> "})),
        ("sp", pre("sp", {"speech": speech["sp"], "text": "THE CAT"})),
    ]
    assert items[0][1]["text"].dtype == np.int64 and items[0][1]["text"].size == 0
    assert items[1][1]["text"].size > 0
    # The marker is only a marker: inside a sentence it is ordinary text.
    assert pre("x", {"speech": speech["ns"], "text": "A <nospeech> B"})["text"].size > 0
    _, batch = SpeechLLMTask.build_collate_fn(args, train=True)(items)
    assert batch["text_lengths"].tolist() == [0, items[1][1]["text"].size]

    torch.manual_seed(0)
    model = SpeechLLMTask.build_model(args).train()
    eos = model.decoder.eos
    target = _append_eos(batch["text"], batch["text_lengths"], eos)
    assert target[0].tolist() == [eos] + [-1] * (target.size(1) - 1)  # eos only
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss) and torch.isfinite(stats["loss_att"])
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    off = SpeechLLMPreprocessor(
        train=False, token_type="hugging_face", token_list=args.token_list,
        bpemodel=str(tiny_tokenizer), empty_nonspeech=False,
    )
    assert off("ns", {"text": "<nospeech>"})["text"].size > 0
