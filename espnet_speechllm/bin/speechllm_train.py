#!/usr/bin/env python3
"""Train a speech-LLM with ESPnet's Trainer (all ESPnet training flags apply)."""

from espnet_speechllm.tasks.speechllm import SpeechLLMTask


def get_parser():
    return SpeechLLMTask.get_parser()


def main(cmd=None):
    r"""Speech-LLM training.

    Example:
        % python -m espnet_speechllm.bin.speechllm_train --print_config \
            --compressor ctc --decoder hf_llm
        % python -m espnet_speechllm.bin.speechllm_train --config conf/train.yaml \
            --token_list data/token_list/tokens.txt --output_dir exp/speechllm ...
    """
    SpeechLLMTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
