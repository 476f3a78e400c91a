"""ESPnet's own ASR decoding (``espnet2.bin.asr_inference``), the model file loaded weights-only.

``--model_type seq2seq`` decodes with ESPnet's ``Speech2Text``, whose
``build_model_from_file`` reads ``--asr_model_file`` with ``torch.load(weights_only=False)``.
This runs ESPnet's ``main`` unchanged inside ``weights_only_loads`` (pretrained/safe_load.py).
"""

from typing import Optional, Sequence

from espnet2.bin import asr_inference
from espnet_speechllm.pretrained.safe_load import weights_only_loads


def main(cmd: Optional[Sequence[str]] = None) -> None:
    with weights_only_loads():
        asr_inference.main(cmd=cmd)


if __name__ == "__main__":
    main()
