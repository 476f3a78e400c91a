"""Every conf of egs2/espeak_st/speechllm1/conf/tuning/ builds with the tiny LLM and trains
one step on dummy X->En input (speech, English target, source transcript, source language);
scripts/run_ablation.sh finds every file it reads there; B1 decodes without a CTC head."""

import re
from pathlib import Path

import pytest
import torch
import yaml

from espnet_speechllm.utils.kaldi_io import read_token_list

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs2" / "espeak_st" / "speechllm1"
ABLATION = ROOT / "egs2" / "TEMPLATE" / "speechllm1" / "scripts" / "run_ablation.sh"
CONFS = sorted((RECIPE / "conf" / "tuning").glob("*.yaml"))
CTC_PRETRAIN = RECIPE / "conf" / "tuning" / "train_ctc_conformer.yaml"


def test_run_ablation_finds_its_confs_in_the_st_recipe():
    script = ABLATION.read_text()
    systems = dict(re.findall(r"\[(e\d|dec|b1)\]=(train_\w+)", script))
    assert set(systems) == {"e0", "e1", "e2", "e3", "e4", "e5", "e6", "dec", "b1"}
    names = [f"tuning/{n}.yaml" for n in systems.values()]
    pretrain = re.findall(r"pretrain\[\$\{sys\}\]=\$\{tuning\}/(\S+\.yaml)", script)
    names += [f"tuning/{n}" for n in pretrain]  # --ctc_pretrain true
    names += re.findall(r"conf/(decode_\w+\.yaml)", script)  # greedy + B1's
    assert "tuning/train_ctc_conformer.yaml" in names and "decode_asr.yaml" in names
    missing = [n for n in names if not (RECIPE / "conf" / n).is_file()]
    assert not missing, f"espeak_st lacks conf/{missing}"


def _dummy_batch():
    """Two utterances: 1 s / 0.75 s of noise, LLM token ids of target and source, language."""
    from espnet_speechllm.asr.prompt_fields import encode_field

    speech = torch.randn(2, 16000) * 0.1
    lang = [torch.from_numpy(encode_field(x)) for x in ("German", "Italian")]
    return dict(
        speech=speech, speech_lengths=torch.tensor([16000, 12000]),
        text=torch.tensor([[40, 41, 42], [43, 44, -1]]), text_lengths=torch.tensor([3, 2]),
        src_text=torch.tensor([[50, 51, 52, 53], [54, 55, -1, -1]]),
        src_text_lengths=torch.tensor([4, 2]),
        lang=torch.nn.utils.rnn.pad_sequence(lang, batch_first=True, padding_value=-1),
        lang_lengths=torch.tensor([len(x) for x in lang]),
    )  # fmt: skip


def _asr_model(conf: Path, tmp_path: Path, tiny_tokenizer: Path):
    """ESPnet's ASRTask model on the LLM tokens, with speechllm.sh's token list:
    <blank> first, and <sos/eos> last when there is a decoder (B1, not CTC pre-training)."""
    from espnet2.tasks.asr import ASRTask

    tokens = ["<blank>"] + read_token_list(tiny_tokenizer / "tokens.txt")
    if yaml.safe_load(conf.read_text()).get("decoder") != "none":
        tokens.append("<sos/eos>")
    (tmp_path / "tokens.txt").write_text("\n".join(tokens) + "\n")
    args = ASRTask.get_parser().parse_args([
        "--config", str(conf), "--token_list", str(tmp_path / "tokens.txt"),
        "--token_type", "hugging_face", "--bpemodel", str(tiny_tokenizer),
        "--output_dir", str(tmp_path / "exp"),
    ])  # fmt: skip
    return ASRTask.build_model(args), args


@pytest.fixture(scope="module")
def ctc_pretrained(tmp_path_factory, tiny_tokenizer) -> Path:
    """State dict of the stage-9 model of conf/tuning/train_ctc_conformer.yaml."""
    tmp = tmp_path_factory.mktemp("ctc_pretrain")
    model, _ = _asr_model(CTC_PRETRAIN, tmp, tiny_tokenizer)
    torch.save(model.state_dict(), tmp / "ctc.pth")
    return tmp / "ctc.pth"


@pytest.mark.parametrize("conf", CONFS, ids=lambda p: p.stem)
def test_st_conf_builds_and_trains_one_step(
    conf, tmp_path, tiny_tokenizer, tiny_llm, ctc_pretrained
):
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    torch.manual_seed(0)
    cfg = yaml.safe_load(conf.read_text())
    batch = _dummy_batch()
    if cfg.get("model") == "speechllm":
        args = SpeechLLMTask.get_parser().parse_args([
            "--config", str(conf), "--token_list", str(tiny_tokenizer / "tokens.txt"),
            "--bpemodel", str(tiny_llm), "--decoder_conf", f"model_name_or_path={tiny_llm}",
            "--output_dir", str(tmp_path / "exp"),
        ])  # fmt: skip
        model = SpeechLLMTask.build_model(args).train()
        model.prompt.sample(2, train=False)  # decoding has no utt2lang: raises on {lang}
        if cfg["decoder_conf"]["mode"] == "frozen":
            assert not any(p.requires_grad for p in model.decoder.parameters())
        if model.ctc_weight > 0:  # the CTC head learns the source transcript, not English
            assert model.ctc_target == "src_text"
            with pytest.raises(ValueError, match="no 'src_text'"):
                model(**{k: v for k, v in batch.items() if not k.startswith("src_text")})
    else:  # ESPnet's own model: B1 (seq2seq) or the stage-9 CTC pre-training
        model, _ = _asr_model(conf, tmp_path, tiny_tokenizer)
        model.train()
        # ESPnet class ids are LLM ids + 1 (<blank> first); CTC pre-training learns the source.
        name = "src_text" if model.decoder is None else "text"
        batch = dict(speech=batch["speech"], speech_lengths=batch["speech_lengths"],
                     text=torch.where(batch[name] >= 0, batch[name] + 1, -1),
                     text_lengths=batch[f"{name}_lengths"])  # fmt: skip
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss), stats
    loss.backward()
    if cfg["encoder"] == "conformer":  # stage 9's encoder (and CTC head) must load as is
        specs = ["encoder:encoder"]
        if cfg.get("compressor") == "ctc":
            specs.append("ctc:compressor.ctc")
        for spec in specs:
            load_pretrained_model(f"{ctc_pretrained}:{spec}", model, ignore_init_mismatch=False)


def test_st_b1_decodes_with_its_decode_conf(tmp_path, tiny_tokenizer):
    """B1 has no CTC head (ctc_weight 0); conf/decode_asr.yaml must not ask for one."""
    from espnet2.bin.asr_inference import Speech2Text

    torch.manual_seed(0)
    b1 = RECIPE / "conf" / "tuning" / "train_asr_conformer_transformer.yaml"
    model, args = _asr_model(b1, tmp_path, tiny_tokenizer)
    assert model.ctc is None
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), tmp_path / "model.pth")
    decode = yaml.safe_load((RECIPE / "conf/decode_asr.yaml").read_text())
    speech2text = Speech2Text(tmp_path / "config.yaml", tmp_path / "model.pth", **decode)
    nbest = speech2text(torch.randn(8000) * 0.1)
    assert 1 <= len(nbest) <= decode["nbest"]
    assert all(isinstance(text, str) for text, *_ in nbest)
