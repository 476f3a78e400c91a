"""conf/tuning/train_speechllm_whisper_smollm2_{lora,hint}.yaml build and train with tiny parts."""

from pathlib import Path

import torch

from espnet_speechllm.asr.prompt_fields import encode_field
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from tiny import TINY_WHISPER

TUNING = Path(__file__).resolve().parents[2] / "egs2/espeak_en/speechllm1/conf/tuning"
CONF = TUNING / "train_speechllm_whisper_smollm2_lora.yaml"
CHAT = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


def _args(conf, tmp_path, tiny_llm):
    import shutil

    from transformers import AutoTokenizer, WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    whisper = tmp_path / "whisper"
    WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER)).save_pretrained(whisper)
    llm = tmp_path / "llm"
    shutil.copytree(tiny_llm, llm)
    tok = AutoTokenizer.from_pretrained(llm)
    tok.chat_template = CHAT
    tok.save_pretrained(llm)
    return SpeechLLMTask.get_parser().parse_args(
        ["--config", str(conf), "--output_dir", str(tmp_path / "exp"),
         "--token_list", str(_token_list(tok, tmp_path)),
         "--bpemodel", str(llm), "--decoder_conf", f"model_name_or_path={llm}",
         "--encoder_conf", f"model_name_or_path={whisper}"]  # fmt: skip
    )


def test_recipe_conf_with_tiny_whisper_and_llm(tmp_path, tiny_llm):
    args = _args(CONF, tmp_path, tiny_llm)
    assert (args.frontend, args.normalize, args.encoder) == (None, None, "hf_whisper")
    model = SpeechLLMTask.build_model(args).train()
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    enc = {n for n in trained if n.startswith("encoder.")}
    dec = {n for n in trained if n.startswith("decoder.")}
    assert enc and all("lora_" in n for n in enc)
    assert dec and all("lora_" in n for n in dec)
    assert any(n.startswith("projector.") for n in trained)
    assert model.compressor.output_size() == 4 * TINY_WHISPER["d_model"]
    speech, lens = torch.randn(2, 12800) * 0.1, torch.tensor([12800, 9600])
    text, text_lens = torch.tensor([[40, 41, 42], [43, 44, -1]]), torch.tensor([3, 2])
    loss, stats, _ = model(speech, lens, text, text_lens)
    loss.backward()
    assert torch.isfinite(loss)
    # 80 ms per LLM audio position: 12800 samples -> 40 Whisper frames -> 10.
    assert model.encode(speech[:1], lens[:1])[0].shape[1] == 10


def _token_list(tok, tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("".join(t + "\n" for t in tok.convert_ids_to_tokens(list(range(len(tok))))))
    return path


def test_hint_conf_reads_whispers_guess_after_the_audio(tmp_path, tiny_llm):
    args = _args(TUNING / "train_speechllm_whisper_smollm2_hint.yaml", tmp_path, tiny_llm)
    model = SpeechLLMTask.build_model(args).train()
    assert not any(p.requires_grad for p in model.encoder.parameters())  # Whisper stays as it is
    torch.manual_seed(0)
    speech, lens = torch.randn(2, 12800) * 0.1, torch.tensor([12800, 9600])
    text, text_lens = torch.tensor([[40, 41, 42], [43, 44, -1]]), torch.tensor([3, 2])
    hints = ['Transcribe the audio. A first guess, which may be wrong: "a b"', "Transcribe the audio."]
    codes = [torch.from_numpy(encode_field(h)) for h in hints]
    inst = torch.nn.utils.rnn.pad_sequence(codes, batch_first=True, padding_value=-1)
    fields = dict(instruction=inst, instruction_lengths=torch.tensor([len(c) for c in codes]))
    model.eval()  # no dropout: the losses differ only by the prompt
    with torch.no_grad():
        _, with_hint, _ = model(speech, lens, text, text_lens, **fields)
        _, default, _ = model(speech, lens, text, text_lens)
    # utterance 2's instruction is the conf's default: only utterance 1's prefix grew
    assert with_hint["prefix_length"] > default["prefix_length"]
    assert not torch.isclose(with_hint["loss_att"], default["loss_att"])


def test_run_whisper_conf_is_the_hint_conf_with_noise_augmentation_for_one_epoch(tmp_path, tiny_llm):
    import yaml

    noise_conf = TUNING / "train_speechllm_whisper_smollm2_hint_noise.yaml"
    hint, noise = (yaml.safe_load(c.read_text()) for c in (TUNING / "train_speechllm_whisper_smollm2_hint.yaml", noise_conf))
    added = {"noise_scp": "data/augment/noise.scp", "noise_apply_prob": 0.5, "noise_db_range": "5_20"}
    assert {k: noise.pop(k) for k in added} == added
    assert (noise.pop("max_epoch"), hint.pop("max_epoch")) == (1, 3)
    assert noise == hint  # the model, data and optimiser of the hint conf, unchanged
    args = _args(noise_conf, tmp_path, tiny_llm)  # ESPnet's parser takes the keys
    assert (args.noise_scp, args.noise_apply_prob, args.noise_db_range) == (
        "data/augment/noise.scp", 0.5, "5_20")
    assert args.max_epoch == 1
