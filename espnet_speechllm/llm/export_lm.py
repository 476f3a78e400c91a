"""Recipe stage 8: save an LM trained by ``bin/lm_train`` as a plain HF directory.

The output holds ``config.json``, ``generation_config.json``,
``model.safetensors`` and the tokenizer files, so the speech task (and any HF
code) loads it with ``AutoModelForCausalLM.from_pretrained`` like a pretrained
LLM. Relative paths in the training config (the tokenizer directory) are read
from the current directory, as during training.
"""

import argparse
import logging
from pathlib import Path

from espnet_speechllm.llm.llm_dir import staged_dir
from espnet_speechllm.utils.cli import parse_args


def export_lm(train_config: str, model_file: str, out_dir: str) -> Path:
    """Rebuild the trained model, then ``save_pretrained`` its LLM and tokenizer."""
    from espnet_speechllm.tasks.causal_lm import CausalLMTask

    model, _ = CausalLMTask.build_model_from_file(train_config, model_file, "cpu")
    llm = model.decoder.causal_lm
    tokenizer = model.decoder.tokenizer
    # The ids the LM was trained with, so that generate() starts and stops alike.
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else model.eos
    for conf in (llm.config, llm.generation_config):
        conf.bos_token_id, conf.eos_token_id, conf.pad_token_id = (
            model.bos,
            model.eos,
            pad,
        )
    out = Path(out_dir)
    with staged_dir(out, f"{train_config} {model_file}") as tmp:
        llm.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    logging.info(f"Exported {model_file} to {out}")
    return out


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train_config", required=True, help="exp/lm/config.yaml")
    p.add_argument("--model_file", required=True, help="exp/lm/valid.loss.best.pth")
    p.add_argument("--out_dir", required=True, help="Output HF directory (exp/llm_<name>)")
    return p


def main(argv=None) -> None:
    args = parse_args(get_parser(), argv)
    export_lm(args.train_config, args.model_file, args.out_dir)


if __name__ == "__main__":
    main()
