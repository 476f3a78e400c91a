"""ESPnet's own ASR training (``espnet2.bin.asr_train``), every checkpoint loaded weights-only.

speechllm.sh stage 9 (encoder CTC pre-training) and ``--model_type seq2seq`` train
ESPnet's ``ASRTask``, which reads ``--init_param``, ``--resume`` checkpoints and the
n-best averaging's epoch files with ``torch.load(weights_only=False)``: a crafted file
runs code. This is the same ``ASRTask.main`` inside ``weights_only_loads``
(pretrained/safe_load.py), as our own tasks train.
"""

from typing import Optional, Sequence

from espnet2.tasks.asr import ASRTask
from espnet_speechllm.pretrained.safe_load import weights_only_loads


def main(cmd: Optional[Sequence[str]] = None) -> None:
    with weights_only_loads():
        ASRTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
