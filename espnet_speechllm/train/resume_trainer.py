"""ESPnet's Trainer whose ``--resume`` names the experiment when its checkpoint no
longer fits the model (another LLM, token list or config under the same exp dir)."""

import re
from pathlib import Path
from typing import Dict, List, Union

import torch

from espnet2.train.trainer import Trainer

_SIZE_RE = re.compile(
    r"size mismatch for ([\w.]+): copying a param with shape torch\.Size\((\[[\d, ]*\])\) "
    r"from checkpoint, the shape in current model is torch\.Size\((\[[\d, ]*\])\)"
)


class ResumeMismatchError(RuntimeError):
    """``<exp>/checkpoint.pth`` holds another model than the one being trained."""


def summarize_load_error(error: RuntimeError) -> str:
    """One phrase per top-level module of a ``load_state_dict`` error.

    ``size mismatch for decoder.x.weight ... [320, 32] ... [320, 48]`` (x 20) ->
    ``decoder: 20 tensors of other shapes, e.g. decoder.x.weight [320, 32] in the
    checkpoint vs [320, 48] now``; missing / unexpected keys are passed on as torch
    words them.
    """
    text = str(error)
    groups: Dict[str, List[re.Match]] = {}
    for m in _SIZE_RE.finditer(text):
        groups.setdefault(m.group(1).split(".")[0], []).append(m)
    phrases = [
        f"{module}: {len(ms)} tensor(s) of other shapes, e.g. {ms[0].group(1)} "
        f"{ms[0].group(2)} in the checkpoint vs {ms[0].group(3)} now"
        for module, ms in sorted(groups.items(), key=lambda kv: kv[0] != "decoder")
    ]
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("Missing key(s)", "Unexpected key(s)")):
            phrases.append(line if len(line) < 300 else line[:300] + "...")
    return "; ".join(phrases) or text.strip().splitlines()[-1]


class ResumeTrainer(Trainer):
    """Trainer.resume, with a load failure turned into a message naming the exp dir."""

    @staticmethod
    def resume(checkpoint: Union[str, Path], model: torch.nn.Module, *args, **kwargs):
        try:
            Trainer.resume(checkpoint, model, *args, **kwargs)
        except RuntimeError as e:
            if "Error(s) in loading state_dict" not in str(e):
                raise
            exp = Path(checkpoint).parent
            raise ResumeMismatchError(
                f"cannot resume the experiment {exp}: its {Path(checkpoint).name} was "
                "trained with another model than the one built now (a different LLM, "
                f"token list or config under the same experiment dir): "
                f"{summarize_load_error(e)}. Train this model in its own experiment "
                "(speechllm.sh's default tag names the config and the LLM; or "
                f"--speechllm_tag / --output_dir), or delete {exp}/checkpoint.pth to "
                "start this one over"
            ) from e
