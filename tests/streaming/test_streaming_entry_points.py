"""speechllm_inference --streaming true, speechllm.sh --use_streaming, and the demo."""

import re

import pytest
import soundfile

from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM
from espnet_speechllm.bin.speechllm_inference import main
from espnet_speechllm.bin.speech2text_llm_streaming import Speech2TextLLMStreaming
from espnet_speechllm.bin.stream_demo import main as demo_main
from espnet_speechllm.bin.stream_demo import stream

def _cmd(exp, scp, out, *extra):
    return [
        "--output_dir", str(out), "--data_path_and_name_and_type", f"{scp},speech,sound",
        "--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
        "--num_workers", "0", *extra,
    ]


def _rows(path):
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in path.read_text().splitlines())


def test_streaming_decoding_writes_the_offline_text(streaming_exp, an4_dirs, tmp_path):
    scp = an4_dirs / "test" / "wav.scp"
    main(_cmd(streaming_exp, scp, tmp_path / "off", "--beam_size", "2", "--min_new_tokens", "2"))
    main(_cmd(streaming_exp, scp, tmp_path / "on", "--beam_size", "2", "--min_new_tokens", "2",
              "--streaming", "true", "--chunk_ms", "640"))  # fmt: skip
    off = _rows(tmp_path / "off" / "1best_recog" / "token_int")
    on = _rows(tmp_path / "on" / "1best_recog" / "token_int")
    assert list(on) == list(off) and len(on) >= 2
    assert on == off


def test_streaming_decoding_refuses_a_non_streaming_encoder(offline_exp, an4_dirs, tmp_path):
    scp = an4_dirs / "test" / "wav.scp"
    with pytest.raises(ValueError, match=r"encoder: ConformerEncoder is not streaming-capable \(use encoder: contextual_block_conformer\)"):
        main(_cmd(offline_exp, scp, tmp_path / "x", "--streaming", "true"))


def test_streaming_needs_batch_size_1(streaming_exp, an4_dirs, tmp_path):
    scp = an4_dirs / "test" / "wav.scp"
    with pytest.raises(ValueError, match="--batch_size 1"):
        main(_cmd(streaming_exp, scp, tmp_path / "x", "--streaming", "true", "--batch_size", "2"))


def test_stage_12_use_streaming_decodes_online(tmp_path):
    from stub_recipe import make_stub_recipe, run_stub

    recipe = make_stub_recipe(tmp_path)
    out = run_stub(recipe, "--stage", "12", "--stop_stage", "12", "--use_streaming", "true",
                   "--batch_size", "8", "--inference_args", "--chunk_ms 320")  # fmt: skip
    (infer,) = out.calls
    assert "--streaming true --batch_size 1" in infer and infer.endswith("--chunk_ms 320")
    assert "/decode_asr_valid.acc.ave_streaming/test/" in infer  # its own decode dir
    (tmp_path / "b").mkdir()
    (plain,) = run_stub(make_stub_recipe(tmp_path / "b"), "--stage", "12", "--stop_stage", "12").calls
    assert "--streaming" not in plain


def test_demo_prints_partials_then_the_offline_final(streaming_exp, an4_wavs, tmp_path, capsys):
    wav = max(an4_wavs.values(), key=len)
    path = tmp_path / "a.wav"
    soundfile.write(path, wav, 16000)
    files = (streaming_exp / "config.yaml", streaming_exp / "model.pth")
    demo_main(["--train_config", str(files[0]), "--model_file", str(files[1]), "--wav", str(path),
               "--chunk_ms", "500", "--realtime", "false"])  # fmt: skip
    assert re.match(r"\[audio +0\.50 s \| wall +\d+\.\d\d s\] partial:", capsys.readouterr().out)
    # The random LLM's text holds any bytes (newlines too): check the lines returned.
    lines = stream(Speech2TextLLMStreaming(*files), wav, 16000, 500, realtime=False)
    assert len(lines) == -(-len(wav) // 8000)
    assert all("] partial: " in line for line in lines[:-1]) and "] final:   " in lines[-1]
    offline = Speech2TextLLM(*files)(wav)[0]
    assert lines[-1].endswith(f"final:   {offline.text}")
