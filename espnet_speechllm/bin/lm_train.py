#!/usr/bin/env python3
"""Train a causal LM on text with ESPnet's Trainer (all ESPnet training flags apply)."""

from espnet_speechllm.tasks.causal_lm import CausalLMTask


def get_parser():
    return CausalLMTask.get_parser()


def main(cmd=None):
    r"""Causal LM training (recipe stage 7).

    Example:
        % python -m espnet_speechllm.bin.lm_train --print_config --decoder hf_llm
        % python -m espnet_speechllm.bin.lm_train --config conf/train_lm.yaml \
            --token_list data/token_list/tokens.txt --bpemodel data/token_list/hf \
            --train_data_path_and_name_and_type dump/raw/lm_train.txt,text,text \
            --valid_data_path_and_name_and_type dump/raw/lm_dev.txt,text,text \
            --train_shape_file exp/lm_stats/train/text_shape \
            --valid_shape_file exp/lm_stats/valid/text_shape --output_dir exp/lm
    """
    CausalLMTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
