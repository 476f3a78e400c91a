import io
import math
from pathlib import Path

import pytest
import torch
import yaml

from espnet_speechllm.llm.train_tokenizer import export_token_list, train_tokenizer

CONF = Path(__file__).parents[2] / "egs2/TEMPLATE/speechllm1/conf/train_lm_tiny.yaml"
SENTENCES = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "the dog sat on the cat",
    "a cat ran in the mat",
    "the park is big",
]
TRICKY = [" leading", "two  spaces", "ünïcödé 日本語 <s> x </s>", "a\tb", ""]


@pytest.fixture(scope="module")
def task():
    from espnet_speechllm.tasks.causal_lm import CausalLMTask

    return CausalLMTask


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    train_tokenizer(SENTENCES + TRICKY, 280, str(d / "tok"))
    export_token_list(str(d / "tok"), str(d / "tokens.txt"))
    lines = "".join(f"utt{i} {s}\n" for i, s in enumerate(SENTENCES))
    (d / "train.txt").write_text(lines, encoding="utf-8")
    return d


def _args(task, data, *extra):
    return task.get_parser().parse_args(
        ["--config", str(CONF), "--token_list", str(data / "tokens.txt")]
        + ["--bpemodel", str(data / "tok"), *extra]
    )


def test_parser_has_task_flags(task, capsys):
    args = task.get_parser().parse_args([])
    assert (args.decoder, args.model) == ("hf_llm", "causal_lm")
    assert args.token_type == "hugging_face"
    with pytest.raises(SystemExit):
        task.get_parser().parse_args(["--token_type", "bpe"])
    with pytest.raises(SystemExit) as e:
        task.main(cmd=["--help"])
    assert e.value.code == 0 and "--bpemodel" in capsys.readouterr().out


def test_print_config_round_trip(task, tmp_path, monkeypatch):
    """--print_config shows the conf merged into the class defaults; it parses back."""
    # NOTE: ESPnet's print_config reads sys.argv, not main(cmd=...).
    monkeypatch.setattr("sys.argv", ["lm_train", "--config", str(CONF)])
    buf = io.StringIO()
    task.print_config(file=buf)
    printed = yaml.safe_load(buf.getvalue())
    assert printed["decoder_conf"]["config"]["num_hidden_layers"] == 2
    assert printed["decoder_conf"]["mode"] == "full"
    assert printed["decoder_conf"]["attn_implementation"] == "sdpa"  # a class default
    assert (printed["optim"], printed["max_epoch"]) == ("adam", 20)
    path = tmp_path / "printed.yaml"
    path.write_text(buf.getvalue(), encoding="utf-8")
    args = vars(task.get_parser().parse_args(["--config", str(path)]))
    assert {k: args[k] for k in printed} == printed


def test_preprocessor_ids_match_the_hf_tokenizer(task, data):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(data / "tok"))
    preprocess = task.build_preprocess_fn(_args(task, data), train=True)
    for text in SENTENCES + TRICKY:
        ids = preprocess("u", {"text": text})["text"].tolist()
        assert ids == tok(text, add_special_tokens=False)["input_ids"], text


def test_build_model_fills_config_and_rejects_bad_setups(task, data):
    args = _args(task, data)
    model = task.build_model(args)
    assert model.decoder.mode == "full" and model.decoder.vocab_size == 280
    # config.yaml alone must rebuild the model: the list and the filled conf.
    assert isinstance(args.token_list, list) and len(args.token_list) == 280
    assert args.decoder_conf["config"]["vocab_size"] == 280
    assert args.decoder_conf["tokenizer_name_or_path"] == str(data / "tok")
    with pytest.raises(ValueError, match="decoder_conf.mode='lora'"):
        task.build_model(_args(task, data, "--decoder_conf", "mode=lora"))
    other = _args(task, data, "--decoder_conf", "tokenizer_name_or_path=other")
    with pytest.raises(ValueError, match="differ: set only --bpemodel"):
        task.build_model(other)
    short = data / "short_tokens.txt"
    short.write_text("<pad>\n<s>\n", encoding="utf-8")
    args = _args(task, data, "--token_list", str(short))
    with pytest.raises(ValueError, match="--token_list has 2 tokens"):
        task.build_model(args)


def _batch(data, texts):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(data / "tok"))
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    lens = torch.tensor([len(x) for x in ids])
    text = torch.full((len(ids), int(lens.max())), -1)
    for i, x in enumerate(ids):
        text[i, : len(x)] = torch.tensor(x)
    return ids, text, lens


def test_forward_loss_is_next_token_ce_and_backward_reaches_all(task, data):
    torch.manual_seed(0)
    model = task.build_model(_args(task, data))
    ids, text, lens = _batch(data, SENTENCES[:3])
    loss, stats, weight = model(text, lens, utt_id=["a", "b", "c"])
    assert set(stats) == {"loss", "acc"} and int(weight) == int(lens.sum()) + 3
    # Reference straight from the HF model: <s> x -> x </s>, averaged over tokens.
    nll, n = 0.0, 0
    for x in ids:
        inp = torch.tensor([[1] + x])
        logp = model.decoder.causal_lm(input_ids=inp).logits.log_softmax(-1)[0]
        nll -= logp[torch.arange(len(x) + 1), torch.tensor(x + [2])].sum()
        n += len(x) + 1
    torch.testing.assert_close(loss.squeeze(), nll / n, rtol=1e-5, atol=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_nll_is_the_same_alone_and_in_a_padded_batch(task, data):
    model = task.build_model(_args(task, data)).eval()
    _, text, lens = _batch(data, SENTENCES[:3] + [""])
    with torch.no_grad():
        nll, ntok = model.nll(text, lens)
        alone = [
            model.nll(text[i : i + 1, : int(lens[i]) or 1], lens[i : i + 1])[0]
            for i in range(4)
        ]
    torch.testing.assert_close(nll, torch.cat(alone), rtol=1e-5, atol=1e-5)
    assert ntok.tolist() == (lens + 1).tolist()


def test_two_epochs_reduce_the_loss_then_export_loads_in_hf(
    task, data, tmp_path, monkeypatch
):
    from transformers import AutoModelForCausalLM

    from espnet_speechllm.llm.export_lm import main as export_main

    monkeypatch.chdir(tmp_path)
    common = [
        "--config", str(CONF), "--token_list", str(data / "tokens.txt"),
        "--bpemodel", str(data / "tok"), "--ngpu", "0", "--num_workers", "0",
        "--use_tensorboard", "false", "--use_matplotlib", "false",
        "--train_data_path_and_name_and_type", f"{data / 'train.txt'},text,text",
        "--valid_data_path_and_name_and_type", f"{data / 'train.txt'},text,text",
    ]  # fmt: skip
    task.main(
        cmd=common
        + ["--collect_stats", "true", "--output_dir", "stats", "--batch_size", "2"]
    )
    ids, _, _ = _batch(data, SENTENCES[:1])
    first = (tmp_path / "stats/train/text_shape").read_text().split("\n")[0]
    assert first == f"utt0 {len(ids[0])}"  # token counts, for batch_bins
    task.main(
        cmd=common
        + ["--train_shape_file", "stats/train/text_shape"]
        + ["--valid_shape_file", "stats/train/text_shape", "--output_dir", "exp"]
        + ["--max_epoch", "2", "--batch_bins", "20", "--scheduler", "none"]
        + ["--optim_conf", "lr=0.01"]
    )
    stats = torch.load("exp/checkpoint.pth", weights_only=False)["reporter"]["stats"]
    assert stats[2]["train"]["loss"] < stats[1]["train"]["loss"]
    assert stats[2]["valid"]["loss"] < math.log(280)

    for _ in range(2):  # re-running replaces the previous export
        export_main(
            ["--train_config", "exp/config.yaml", "--out_dir", "llm"]
            + ["--model_file", "exp/valid.loss.best.pth"]
        )
    hf = AutoModelForCausalLM.from_pretrained("llm")
    assert (hf.config.bos_token_id, hf.generation_config.eos_token_id) == (1, 2)
    model, _ = task.build_model_from_file("exp/config.yaml", "exp/valid.loss.best.pth")
    _, text, lens = _batch(data, SENTENCES[:1])
    bos = model.decoder.embed(torch.tensor([[1]]))  # (1, 1, D)
    ref, _ = model.decoder(bos, torch.tensor([1]), text, lens)
    got = hf(input_ids=torch.cat([torch.tensor([[1]]), text], 1)).logits
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)

    torch.save({"decoder.llm.bogus": torch.zeros(1)}, "bad.pth")
    with pytest.raises(RuntimeError, match="bogus"):
        task.build_model_from_file("exp/config.yaml", "bad.pth")
