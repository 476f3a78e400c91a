"""egs2/espeak_chat/speechllm1: links to TEMPLATE, executable scripts, confs, stages."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs2" / "espeak_chat" / "speechllm1"


def test_recipe_links_the_template_and_its_confs_exist():
    for name in ("speechllm.sh", "utils", "scripts", "path.sh", "cmd.sh"):
        link = RECIPE / name
        assert link.is_symlink() and link.resolve() == (ROOT / "egs2/TEMPLATE/speechllm1" / name).resolve()
    for name in ("run.sh", "local/data.sh", "local/run_chat_eval.sh"):
        assert os.access(RECIPE / name, os.X_OK), name
    for conf in ("train_speechllm.yaml", "decode_speechllm.yaml"):
        assert (RECIPE / "conf" / conf).is_file()  # the links resolve
    assert "--make_responses true" in (RECIPE / "run.sh").read_text()


def test_data_sh_calls_the_shared_corpus_tools_that_exist():
    text = (RECIPE / "local/data.sh").read_text()
    tools = re.findall(r'python "\$\{shared_local\}/(\w+\.py)"', text)
    assert sorted(set(tools)) == ["chat_items.py", "espeak_synth.py"]
    for tool in tools:
        assert (ROOT / "local" / tool).is_file(), tool
