"""Tiny configs and ESPnet command lines shared by tests."""

from pathlib import Path


TINY_LLAMA = dict(
    model_type="llama",
    vocab_size=320,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)


def tiny_train_config(tiny_tokenizer: Path, **decoder_overrides) -> dict:
    """A from-scratch CTC-compressed speech-LLM small enough for seconds of CPU."""
    decoder_conf = dict(mode="full", config=dict(TINY_LLAMA))
    decoder_conf.update(decoder_overrides)
    return dict(
        frontend_conf=dict(n_fft=512, hop_length=160),
        encoder="conformer",
        encoder_conf=dict(
            output_size=32, attention_heads=2, linear_units=64, num_blocks=1, input_layer="conv2d"
        ),
        compressor="ctc",
        compressor_conf=dict(mode="frame_averaging"),
        projector="mlp",
        decoder="hf_llm",
        decoder_conf=decoder_conf,
        model_conf=dict(prompt=["Transcribe:", "Write it down:"], ctc_weight=0.3),
        token_list=str(tiny_tokenizer / "tokens.txt"),
        bpemodel=str(tiny_tokenizer),
        batch_type="folded",
        batch_size=2,
        max_epoch=2,
        optim="adam",
        optim_conf=dict(lr=0.003),
        num_att_plot=0,
        use_tensorboard=False,
        seed=0,
    )


def train_cmd(config: Path, data: Path, out: Path, stats: Path, *extra: str) -> list:
    """ESPnet training flags as speechllm.sh stage 11 passes them."""
    cmd = ["--config", str(config), "--output_dir", str(out), "--ngpu", "0"]
    for split, name in (("train", "train"), ("valid", "test")):
        cmd += [
            f"--{split}_data_path_and_name_and_type", f"{data / name}/wav.scp,speech,sound",
            f"--{split}_data_path_and_name_and_type", f"{data / name}/text,text,text",
            f"--{split}_shape_file", f"{stats / split}/speech_shape",
            f"--{split}_shape_file", f"{stats / split}/text_shape",
        ]
    return cmd + ["--fold_length", "80000", "--fold_length", "150", *extra]


def collect_stats_cmd(config: Path, data: Path, out: Path) -> list:
    """Stage 10: shape files are read for their keys only, so wav.scp/text serve."""
    cmd = ["--config", str(config), "--output_dir", str(out), "--ngpu", "0"]
    for split, name in (("train", "train"), ("valid", "test")):
        cmd += [
            f"--{split}_data_path_and_name_and_type", f"{data / name}/wav.scp,speech,sound",
            f"--{split}_data_path_and_name_and_type", f"{data / name}/text,text,text",
            f"--{split}_shape_file", f"{data / name}/wav.scp",
        ]
    return cmd + ["--collect_stats", "true"]




# A random 2-layer Whisper whose encoder takes at most 1 s (50 output frames).
TINY_WHISPER = dict(
    vocab_size=64,
    d_model=16,
    encoder_layers=2,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    num_mel_bins=80,
    max_source_positions=50,
    max_target_positions=16,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=2,
    decoder_start_token_id=3,
)


def built_exp(root: Path, conf: dict, seed: int = 0) -> Path:
    """An untrained model built from ``conf`` (seeded), saved as training leaves it:
    ``root/{train.yaml,config.yaml,model.pth}``."""
    import torch
    import yaml

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    root.mkdir(parents=True)
    (root / "train.yaml").write_text(yaml.safe_dump(conf))
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(root / "train.yaml"), "--output_dir", "x"])
    torch.manual_seed(seed)
    model = SpeechLLMTask.build_model(args)
    torch.save(model.state_dict(), root / "model.pth")
    (root / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    return root
