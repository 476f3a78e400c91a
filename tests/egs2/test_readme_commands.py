"""The README's "without the recipe" commands are complete: every flag exists, each shape
file has its fold length, nothing is elided with "..." (they were run as written on
mini_an4; here they are parsed, not run)."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Training and decoding without the recipe", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "..." not in block
    opts = shlex.split(re.search(r"opts=\((.*?)\)", block, re.S).group(1))
    body = block.split(")\n", 1)[1].replace("\\\n", " ")
    cmds = []
    for line in body.splitlines():
        if line.startswith("python -m "):
            words = shlex.split(line.replace('"${opts[@]}"', "OPTS"))
            i = words.index("OPTS") if "OPTS" in words else None
            cmds.append(words[:i] + opts + words[i + 1 :] if i is not None else words)
    return cmds


def test_readme_training_and_decoding_commands_parse(monkeypatch):
    from espnet_speechllm.bin.speechllm_inference import get_parser as inference_parser
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    stats, train, decode = _commands()
    monkeypatch.chdir(ROOT / "egs2" / "mini_an4" / "speechllm1")  # --config is read when parsed
    parser = SpeechLLMTask.get_parser()
    for cmd in (stats, train):
        assert cmd[:3] == ["python", "-m", "espnet_speechllm.bin.speechllm_train"]
        args, unknown = parser.parse_known_args(cmd[3:])
        assert unknown == [] and args.output_dir and args.token_list
    args = parser.parse_args(train[3:])
    assert len(args.train_shape_file) == len(args.fold_length) == len(args.valid_shape_file) == 2
    assert args.normalize == "global_mvn" and args.decoder_conf["model_name_or_path"]
    assert parser.parse_args(stats[3:]).collect_stats
    assert decode[:3] == ["python", "-m", "espnet_speechllm.bin.speechllm_inference"]
    assert inference_parser().parse_args(decode[3:]).model_file == "exp/x/valid.acc.ave.pth"
