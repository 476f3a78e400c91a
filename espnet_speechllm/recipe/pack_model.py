"""Stage 14: pack a trained speech-LLM as an ESPnet model-zoo archive (.zip).

::

    python -m espnet_speechllm.recipe.pack_model --train_config exp/X/config.yaml \\
        --model_file exp/X/valid.acc.ave.pth [--llm_dir exp/llm] \\
        [--readme exp/X/RESULTS.md] --outpath exp/X/X_valid.acc.ave.zip

espnet2's ``pack`` writes the archive: ``meta.yaml`` (``yaml_files: train_config``,
``files: model_file``), the config and checkpoint under ``exp/<tag>/``, ``README.md``
(a model card holding --readme) and every local file or directory the config needs
to rebuild the model. These are the config's pretrained sources
(``espnet_speechllm/pretrained/sources.py``): each module class that reads files
when built declares its own (``HFLLMDecoder``: ``decoder_conf.model_name_or_path``,
``decoder_conf.tokenizer_name_or_path``; ``HFWhisperEncoder``:
``encoder_conf.model_name_or_path``; ESPnet's ``GlobalMVN``:
``normalize_conf.stats_file``), plus ``bpemodel`` and ``token_list``. By kind:

- a model directory (an LLM, a Whisper model): config, weights and tokenizer, e.g.
  the from-scratch LM exported by stage 8, or the pretrained weights of a frozen /
  LoRA part, which the checkpoint does not hold;
- a tokenizer directory: weights left out;
- a file (a stats file, a token list).

A value that is no local path (a Hugging Face hub id) is left as it is: loading fetches
it. --llm_dir names the recipe's LLM dir only to report whether the config uses it.
Inside the archive's ``config.yaml`` these paths become archive paths (``exp/llm``,
``data/token_list/<name>``, ...), and each packed directory also gets a directory entry,
so that unpacking rewrites them, like file paths, to where they were unpacked::

    s2t = Speech2TextLLM.from_pretrained("X_valid.acc.ave.zip", "model_dir")

(it refuses archive members and meta.yaml paths outside ``model_dir``, which
espnet2's ``unpack`` would write; espnet2's ``unpack`` and espnet_model_zoo read
trusted archives of this layout too).
"""

import argparse
import fnmatch
import logging
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from espnet_speechllm.pretrained.sources import (
    FILE,
    KINDS,
    MODEL_DIR,
    TOKENIZER_DIR,
    Source,
    config_sources,
)
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.hf_local import is_hub_id

# Weights of other frameworks and originals that a torch LLM does not need.
_SKIP_LLM_FILES = ("*.h5", "*.msgpack", "*.ot", "*.onnx", "*.gguf", "*.pt", "*.pth")
# Weight files: not needed in a directory used only for its tokenizer.
_WEIGHT_FILES = ("*.safetensors", "*.bin", "*.index.json") + _SKIP_LLM_FILES


class PackError(ValueError):
    """The model cannot be packed (missing file, unsupported archive type)."""


def _set(config: dict, keys: Sequence[str], value: str) -> None:
    for key in keys[:-1]:
        config = config[key]
    config[keys[-1]] = value


def speechllm_sources(config: dict) -> List[Source]:
    """The pretrained sources of a speech-LLM training config, model directories
    first (a directory that is also a tokenizer source is packed with its weights)."""
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    try:
        sources = config_sources(config, SpeechLLMTask.class_choices_list)
    except ValueError as e:
        raise PackError(f"cannot read the config's classes: {e}") from e
    return sorted(sources, key=lambda s: KINDS.index(s.kind))


def _inside_cwd(value: str) -> Optional[str]:
    """value as a clean path relative to the current dir, or None if it is outside."""
    cwd = Path.cwd()
    for p, base in (
        (Path(os.path.normpath(Path(value).absolute())), cwd.absolute()),
        (Path(value).resolve(), cwd.resolve()),  # e.g. /tmp a symlink
    ):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return rel.as_posix() if rel.parts else None
    return None


def _arcname(value: str, kind: str, is_dir: bool) -> str:
    """Archive path of a referenced path: its path relative to the current (recipe)
    dir when inside it, else a recipe-like place named after it."""
    rel = _inside_cwd(value)
    if rel is not None:
        return rel
    name = Path(value).resolve().name
    if kind in (MODEL_DIR, "exp"):
        return f"exp/{name}"
    if kind == TOKENIZER_DIR and is_dir:
        return f"data/token_list/{name}"
    return f"exp/{Path(value).resolve().parent.name}/{name}"


def _dir_files(src: Path, kind: str) -> List[Path]:
    """Top-level files of an HF directory that loading needs."""
    files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    skip = _SKIP_LLM_FILES if kind == MODEL_DIR else _WEIGHT_FILES
    if kind == MODEL_DIR and any(p.suffix == ".safetensors" for p in files):
        skip += ("pytorch_model*.bin", "pytorch_model*.bin.index.json")
    kept = [p for p in files if not any(fnmatch.fnmatch(p.name, s) for s in skip)]
    left_out = sorted(
        {p.name for p in files} - {p.name for p in kept}
        | {p.name + "/" for p in src.iterdir() if p.is_dir()}
    )
    if left_out:
        logging.info(f"pack_model: {src}: not packed: {' '.join(left_out)}")
    return kept


def _stage(src: Path, dst: Path) -> None:
    """Put src (resolved) at dst: a hard link when possible, else a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    src = src.resolve()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def model_card(tag: str, archive: str, readme: Optional[Path]) -> str:
    """README.md of the archive (the Hugging Face model card when uploaded)."""
    lines = [
        "---",
        "tags:",
        "- espnet",
        "- espnet_speechllm",
        "- audio",
        "- automatic-speech-recognition",
        "library_name: espnet",
        "---",
        "",
        f"# {tag}",
        "",
        "A speech-LLM trained with espnet_speechllm, an ESPnet2 plugin (speech encoder "
        "-> compressor -> projector -> causal LLM).",
        "",
        "```python",
        "from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM",
        "",
        "# the archive, or the directory holding this model card",
        f's2t = Speech2TextLLM.from_pretrained("{archive}", "model_dir")',
        "text = s2t(speech)[0][0]  # speech: 16 kHz mono waveform",
        "```",
        "",
    ]
    if readme is not None:
        lines.append(readme.read_text(encoding="utf-8"))
    return "\n".join(lines) + "\n"


def pack_model(
    train_config: str,
    model_file: str,
    outpath: str,
    llm_dir: Optional[str] = None,
    readme: Optional[str] = None,
) -> Dict[str, str]:
    """Write the archive; returns {archive path: source} of what was packed.

    Relative paths in the config are read from the current directory, as in training.
    """
    config, readme_path = _read_inputs(train_config, model_file, outpath, readme)
    out = Path(outpath).absolute()
    exp_arc = _arcname(str(Path(train_config).parent), "exp", True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pack_", dir=out.parent) as tmp:
        stage = Path(tmp)
        packed, dirs = stage_sources(config, stage, llm_dir)
        config_arc = f"{exp_arc}/config.yaml"
        model_arc = f"{exp_arc}/{Path(model_file).name}"
        (stage / exp_arc).mkdir(parents=True, exist_ok=True)
        with open(stage / config_arc, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f, indent=4, sort_keys=False, allow_unicode=True)
        _stage(Path(model_file), stage / model_arc)
        options = [f for f in packed if f not in dirs]
        options += [str(p.relative_to(stage)) for d in dirs for p in (stage / d).iterdir()]
        tag = PurePosixPath(exp_arc).name
        (stage / "README.md").write_text(
            model_card(tag, out.name, readme_path), encoding="utf-8"
        )
        options.append("README.md")
        if readme_path is not None:
            _stage(readme_path, stage / exp_arc / "RESULTS.md")
            options.append(f"{exp_arc}/RESULTS.md")
        _write_zip(stage, out, model_arc, config_arc, sorted(options), dirs)
    packed.update({config_arc: str(Path(train_config).resolve())})
    packed.update({model_arc: str(Path(model_file).resolve())})
    return packed


def _read_inputs(
    train_config: str, model_file: str, outpath: str, readme: Optional[str]
) -> Tuple[dict, Optional[Path]]:
    """Check the arguments; the config as a dict and the README path (or None)."""
    if Path(outpath).suffix != ".zip":
        raise PackError(f"--outpath {outpath}: only .zip archives are supported")
    for path, what in ((train_config, "--train_config"), (model_file, "--model_file")):
        if not Path(path).is_file():
            raise PackError(f"{what} {path}: no such file")
    readme_path = Path(readme) if readme else None
    if readme_path is not None and not readme_path.is_file():
        raise PackError(f"--readme {readme}: no such file (run stage 13 first)")
    with open(train_config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict):
        raise PackError(f"{train_config}: not a YAML mapping")
    return config, readme_path


def stage_sources(
    config: dict, stage: Path, llm_dir: Optional[str]
) -> Tuple[Dict[str, str], List[str]]:
    """Copy every pretrained source of ``config`` under ``stage``, rewriting its paths.

    Shared with the transformers export (export/hf_export.py), which stages into its dir.

    Returns:
        {archive path: resolved source} and the archive paths that are directories.
    """
    packed: Dict[str, str] = {}  # archive path -> resolved source
    arc_of: Dict[Path, str] = {}  # resolved source -> archive path
    dirs: List[str] = []
    llm_used = False
    for ref in speechllm_sources(config):
        src = Path(ref.value)
        key = ref.key
        if not src.exists():
            if llm_dir and Path(os.path.normpath(ref.value)) == Path(
                os.path.normpath(llm_dir)
            ):
                raise PackError(f"{key}={ref.value}: the LLM dir does not exist")
            if ref.kind != FILE and is_hub_id(ref.value):
                logging.info(f"pack_model: {key}={ref.value}: hub id, not packed")
                continue
            raise PackError(
                f"{key}={ref.value}: no such file or directory (relative paths are "
                "read from the current directory: run from the recipe dir)"
            )
        resolved = src.resolve()
        if llm_dir and Path(llm_dir).exists() and resolved == Path(llm_dir).resolve():
            llm_used = True
        if resolved in arc_of:  # e.g. bpemodel and model_name_or_path both exp/llm
            arc = arc_of[resolved]
        else:
            arc = _arcname(ref.value, ref.kind, src.is_dir())
            base, n = arc, 1
            while arc in packed:
                n += 1
                arc = f"{base}_{n}"
            if src.is_dir():
                for f in _dir_files(src, ref.kind):
                    _stage(f, stage / arc / f.name)
                dirs.append(arc)
            else:
                _stage(src, stage / arc)
            packed[arc] = str(resolved)
            arc_of[resolved] = arc
        _set(config, ref.keys, arc)
        logging.info(f"pack_model: {key}: {ref.value} -> {arc}")
    if llm_dir and not llm_used:
        logging.info(f"pack_model: the config does not refer to --llm_dir {llm_dir}: not packed")
    return packed, dirs


def _write_zip(
    stage: Path, out: Path, model_arc: str, config_arc: str, options: List[str], dirs: List[str]
) -> None:
    """espnet2's ``pack`` of the staged tree into ``out``, written atomically."""
    from espnet2.main_funcs.pack_funcs import pack

    tmp_out = out.with_name(f".{out.name}.tmp.zip")
    cwd = os.getcwd()
    os.chdir(stage)  # espnet2's pack stores paths relative to the current dir
    try:
        pack(
            files={"model_file": model_arc},
            yaml_files={"train_config": config_arc},
            outpath=tmp_out,
            option=options,
        )
        # Directory entries: espnet2's unpack rewrites a config value equal to an
        # archive member, and Path("exp/llm") == Path("exp/llm/").
        with zipfile.ZipFile(tmp_out, "a") as zf:
            for d in dirs:
                info = zipfile.ZipInfo(f"{d}/", time.localtime()[:6])
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
    except BaseException:
        tmp_out.unlink(missing_ok=True)
        raise
    finally:
        os.chdir(cwd)
    os.replace(tmp_out, out)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train_config", required=True, help="exp/X/config.yaml")
    parser.add_argument("--model_file", required=True, help="exp/X/valid.acc.ave.pth")
    parser.add_argument(
        "--llm_dir", default=None, help="the recipe's LLM dir (exp/llm), for the report"
    )
    parser.add_argument("--readme", default=None, help="RESULTS.md for the model card")
    parser.add_argument("--outpath", required=True, help="output .zip")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        packed = pack_model(
            args.train_config, args.model_file, args.outpath, args.llm_dir, args.readme
        )
    except (PackError, OSError) as e:
        sys.exit(f"pack_model: {e}")
    size = Path(args.outpath).stat().st_size / 2**20
    print(f"pack_model: wrote {args.outpath} ({size:.1f} MiB): {' '.join(sorted(packed))}")


if __name__ == "__main__":
    main()
