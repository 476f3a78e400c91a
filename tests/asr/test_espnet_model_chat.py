"""ESPnetSpeechLLMModel with the chat layout, the distillation term and the matching loss."""

import json

import pytest
import torch
import torch.nn.functional as F
import yaml

from espnet2.train.collate_fn import CommonCollateFn
from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel, _append_eos
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from espnet_speechllm.asr.prompt_fields import encode_field, fields_of
from espnet_speechllm.train.speechllm_preprocessor import SpeechLLMPreprocessor
from chat_tiny import chat_train_config, save_chatml_tokenizer
from tiny import tiny_train_config

LENS = [8000, 6000]
TRANSCRIPTS = ["THE CAT SAT", "TWO ONE"]
RESPONSES = ["YES", "NO IT IS NOT"]
HISTORY = [{"role": "user", "content": "HELLO"}, {"role": "assistant", "content": "HI"}]


@pytest.fixture(scope="module")
def chat_tok(tmp_path_factory, tiny_tokenizer):
    return save_chatml_tokenizer(tiny_tokenizer, tmp_path_factory.mktemp("chat_tok"))


def _build(tmp_path, conf) -> ESPnetSpeechLLMModel:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    torch.manual_seed(0)
    return SpeechLLMTask.build_model(args)


def _ids(model, texts):
    tok = model.decoder.tokenizer
    rows = [torch.tensor(tok(t, add_special_tokens=False).input_ids) for t in texts]
    lens = torch.tensor([len(r) for r in rows])
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=-1), lens


def _batch(model, history=None, instruction=None):
    torch.manual_seed(3)
    text, text_lens = _ids(model, RESPONSES)
    src, src_lens = _ids(model, TRANSCRIPTS)
    batch = dict(
        speech=torch.randn(len(LENS), max(LENS)),
        speech_lengths=torch.tensor(LENS),
        text=text,
        text_lengths=text_lens,
        src_text=src,
        src_text_lengths=src_lens,
        utt_id=["u0", "u1"],
    )
    fields = {}
    if history is not None:
        fields["history"] = history
    if instruction is not None:
        fields["instruction"] = instruction
    if fields:
        items = [
            (f"u{b}", {k: encode_field(v[b]) for k, v in fields.items()}) for b in range(2)
        ]
        _, collated = CommonCollateFn(int_pad_value=-1)(items)
        batch.update(collated)
    return batch


def _has_grad(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_chat_prefix_is_the_layouts_turn_with_history(tmp_path, chat_tok):
    model = _build(tmp_path, chat_train_config(chat_tok, instruction="Answer:")).eval()
    history = [json.dumps(HISTORY), "[]"]
    batch = _batch(model, history=history, instruction=["Listen.", "Answer:"])
    audio, audio_lens = model.encode(batch["speech"], batch["speech_lengths"])
    fields = fields_of(batch)
    prefix, prefix_lens = model.build_prefix(audio, audio_lens, True, fields=fields)
    for b, (instr, hist) in enumerate([("Listen.", HISTORY), ("Answer:", None)]):
        pre, post = model.layout.audio_ids(instr, hist)
        n = int(audio_lens[b])
        assert int(prefix_lens[b]) == len(pre) + n + len(post)
        want = torch.cat([model.decoder.embed(torch.tensor(pre)), audio[b, :n],
                          model.decoder.embed(torch.tensor(post))])
        torch.testing.assert_close(prefix[b, : prefix_lens[b]], want)
    # The history is in the first utterance's prefix only, and it changes its loss.
    with_hist = model(**batch)[1]["loss_att"]
    batch_none = _batch(model, history=["[]", "[]"], instruction=["Listen.", "Answer:"])
    assert float(with_hist) != float(model(**batch_none)[1]["loss_att"])


def test_target_ends_with_the_end_of_turn(tmp_path, chat_tok):
    model = _build(tmp_path, chat_train_config(chat_tok, ctc_weight=0.0)).eval()
    tok = model.decoder.tokenizer
    assert model.eos == tok.convert_tokens_to_ids("<|im_end|>") != tok.eos_token_id
    batch = _batch(model)
    _, stats, _ = model(**batch)
    # What forward() feeds the LLM: the frontend runs on the padded batch.
    feats = model._extract_feats(batch["speech"], batch["speech_lengths"])
    audio, audio_lens = model.to_llm_space(*model._encode_feats(*feats))
    prefix, prefix_lens = model.build_prefix(audio, audio_lens, False)
    logits, _ = model.decoder(prefix, prefix_lens, batch["text"], batch["text_lengths"])
    for eos, same in ((model.eos, True), (tok.eos_token_id, False)):
        target = _append_eos(batch["text"], batch["text_lengths"], eos)
        ce = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=-1)
        assert bool(torch.isclose(ce, stats["loss_att"], atol=1e-5)) == same


def _transcript_audio(model, batch):
    """Audio embeddings replaced by the embeddings of the transcript as the teacher reads it."""
    tok = model.decoder.tokenizer
    rows = []
    for b, text in enumerate(TRANSCRIPTS):
        _, mid, _ = model.layout.text_segments(text)
        rows.append(model.decoder.embed(torch.tensor(mid)))
    lens = torch.tensor([r.size(0) for r in rows])
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True), lens


def test_kl_is_zero_when_the_student_reads_the_transcript(tmp_path, chat_tok, monkeypatch):
    model = _build(tmp_path, chat_train_config(chat_tok, distill_weight=0.5)).train()
    batch = _batch(model)
    _, stats, _ = model(**batch)
    assert float(stats["loss_kl"]) > 1e-4  # the audio is not the transcript
    monkeypatch.setattr(model, "to_llm_space", lambda enc, lens: _transcript_audio(model, batch))
    _, stats, _ = model(**batch)
    assert float(stats["loss_kl"]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("mode", ["frozen", "lora"])
def test_kl_gradient_reaches_only_the_trainable_parts(tmp_path, chat_tok, mode):
    conf = chat_train_config(chat_tok, mode, distill_weight=1.0, ce_weight=0.0, ctc_weight=0.0)
    model = _build(tmp_path, conf).train()
    loss, stats, _ = model(**_batch(model))
    assert torch.isclose(loss, stats["loss_kl"])  # ce_weight 0: the KL alone
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.projector.parameters())
    assert _has_grad(model.encoder)
    for name, p in model.decoder.named_parameters():
        if "lora_" in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert not p.requires_grad and p.grad is None, name


def test_distillation_config_errors_name_the_key(tmp_path, chat_tok, tiny_tokenizer):
    model = _build(tmp_path, chat_train_config(chat_tok, distill_weight=0.5))
    batch = _batch(model)
    del batch["src_text"], batch["src_text_lengths"]
    with pytest.raises(ValueError, match="model_conf.distill_weight > 0 but the batch has no 'src_text'"):
        model(**batch)
    with pytest.raises(ValueError, match="decoder_conf.mode frozen or lora"):
        _build(tmp_path, chat_train_config(chat_tok, "full", distill_weight=0.5))
    conf = tiny_train_config(tiny_tokenizer)  # its tokenizer has no chat template
    conf["model_conf"] = dict(chat_layout=True)
    with pytest.raises(ValueError, match="model_conf.chat_layout=true .* no chat template"):
        _build(tmp_path, conf)
    conf["model_conf"] = dict(distill_weight=0.5)
    with pytest.raises(ValueError, match="needs model_conf.chat_layout: true"):
        _build(tmp_path, conf)


def test_matching_loss_is_logged_and_trains_the_audio_side(tmp_path, tiny_tokenizer):
    conf = tiny_train_config(tiny_tokenizer)
    conf["model_conf"] = dict(
        ctc_weight=0.0, ce_weight=0.0, matching_loss_weight=0.5,
        matching_conf=dict(mse_weight=1.0, cos_weight=0.5, num_heads=2),
    )
    model = _build(tmp_path, conf).train()
    loss, stats, _ = model(**_batch(model))
    for key in ("loss_match", "loss_match_mse", "loss_match_cos"):
        assert torch.isfinite(stats[key]) and stats[key] > 0, key
    # ce_weight 0: what is left is the weighted matching loss.
    torch.testing.assert_close(loss, 0.5 * stats["loss_match"])
    loss.backward()
    assert model.projector.parameters().__next__().grad.abs().sum() > 0
    assert _has_grad(model.encoder)
    # The text embeddings are a target: the LLM's table gets no gradient from it.
    assert model.decoder.input_embeddings.weight.grad.abs().sum() == 0


def test_matching_off_gives_the_same_loss_as_before(tmp_path, tiny_tokenizer):
    base = _build(tmp_path, tiny_train_config(tiny_tokenizer)).eval()
    conf = tiny_train_config(tiny_tokenizer)
    conf["model_conf"].update(matching_loss_weight=0.0, distill_weight=0.0, ce_weight=1.0)
    same = _build(tmp_path, conf).eval()
    batch = _batch(base)
    assert base.state_dict().keys() == same.state_dict().keys()
    assert torch.equal(base(**batch)[0], same(**batch)[0])


def test_nospeech_target_trains_with_the_chat_layout(tmp_path, chat_tok):
    model = _build(tmp_path, chat_train_config(chat_tok, distill_weight=0.5)).train()
    pre = SpeechLLMPreprocessor(
        train=True, token_type="hugging_face", token_list=str(chat_tok / "tokens.txt"),
        bpemodel=str(chat_tok),
    )
    items = [
        (f"u{b}", pre(f"u{b}", {"speech": torch.randn(n).numpy(), "text": resp, "src_text": src}))
        for b, (n, resp, src) in enumerate(zip(LENS, ["<nospeech>", "YES"], ["<nospeech>", "ONE"]))
    ]
    keys, batch = CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)(items)
    assert batch["text_lengths"].tolist()[0] == 0
    loss, stats, _ = model(**batch, utt_id=keys)
    assert torch.isfinite(loss) and torch.isfinite(stats["loss_kl"])
    loss.backward()
    assert next(model.projector.parameters()).grad is not None
