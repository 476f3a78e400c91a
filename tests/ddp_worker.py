"""What ``torchrun`` runs in tests/bin/test_speechllm_train_ddp.py: speechllm_train, with a
record of the utterances each rank trains on (ESPnet logs the batches before it splits
them across ranks, not each rank's share).

    torchrun ... tests/ddp_worker.py RECORD_PREFIX <speechllm_train args>

writes ``RECORD_PREFIX.<rank>``: one line of utterance ids per training step.
"""

import os
import sys
from typing import Callable

from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel
from espnet_speechllm.bin.speechllm_train import main


def recording_forward(path: str) -> Callable:
    """``ESPnetSpeechLLMModel.forward`` that first appends a training batch's ids to ``path``."""
    forward = ESPnetSpeechLLMModel.forward

    def recording(self, *args, **kwargs):
        if self.training:
            with open(path, "a", encoding="utf-8") as f:
                f.write(" ".join(kwargs["utt_id"]) + "\n")
        return forward(self, *args, **kwargs)

    return recording


if __name__ == "__main__":
    ESPnetSpeechLLMModel.forward = recording_forward(f"{sys.argv[1]}.{os.environ['RANK']}")
    main(sys.argv[2:])
