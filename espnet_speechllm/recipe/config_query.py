"""What a training config says once the recipe's overrides are applied, for speechllm.sh.

::

    python -m espnet_speechllm.recipe.config_query get conf.yaml encoder \\
        --args "--encoder hf_whisper --compressor_conf stride=3"     # -> hf_whisper
    python -m espnet_speechllm.recipe.config_query get conf.yaml compressor_conf.stride
    python -m espnet_speechllm.recipe.config_query tag conf/tuning/train_x.yaml   # -> x

``get`` reads the YAML as ESPnet does and applies ``--args`` (the ``--speechllm_args``
of the recipe) as ESPnet's parser would: ``--key value`` replaces a value, and
``--<name>_conf k=v`` / ``--<name>_conf "{k: v}"`` is merged into the dict by
ESPnet's own ``NestedDictAction``. It prints the value (``none`` for null, ``true`` /
``false``, YAML flow style for dicts and lists) or an empty line when the key is absent.
"""

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import yaml

_MISSING = object()


def apply_overrides(config: Dict[str, Any], args: Sequence[str]) -> Dict[str, Any]:
    """``config`` updated by ESPnet-style command-line overrides (``--key value``).

    Raises:
        ValueError: a token that is not ``--key`` followed by a value.
    """
    from espnet2.utils.nested_dict_action import NestedDictAction

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    seen = set()
    for token in args:
        flag = token.split("=", 1)[0]
        if not token.startswith("--") or flag == "--" or flag in seen:
            continue
        seen.add(flag)
        if flag.endswith("_conf"):
            parser.add_argument(flag, action=NestedDictAction)
        else:
            parser.add_argument(flag)
    parser.set_defaults(**config)
    try:
        ns, rest = parser.parse_known_args(list(args))
    except SystemExit as e:  # argparse exits on a flag without value
        raise ValueError(f"cannot parse overrides {shlex.join(args)!r}") from e
    if rest:
        raise ValueError(f"overrides {shlex.join(args)!r}: {rest[0]!r} is not '--key value'")
    return vars(ns)


def lookup(config: Dict[str, Any], key_path: str) -> Any:
    """``config["a"]["b"]`` for ``"a.b"``; ``_MISSING`` when a part is absent."""
    value: Any = config
    for part in key_path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def format_value(value: Any) -> str:
    """The value as speechllm.sh compares it: ``none``, ``true``, ``3``, ``{a: 1}``."""
    if value is _MISSING:
        return ""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)


def query(config_path: str, key_path: str, args: str = "") -> str:
    """The formatted value of ``key_path`` in the config after ``args`` overrides."""
    with open(config_path, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{config_path}: not a YAML mapping")
    return format_value(lookup(apply_overrides(config, shlex.split(args)), key_path))


def config_tag(config_path: str) -> str:
    """The experiment tag of a config: its file name without ``train_`` and ``.yaml``.

    Links named ``train_*`` are followed (``conf/train_speechllm.yaml`` ->
    ``tuning/train_x.yaml`` gives ``x``); a link to a canonical conf under the
    repository's ``conf/<paper>/`` is not, so tuning names keep their exp dirs.
    """
    path = Path(config_path)
    while path.is_symlink():
        target = path.parent / os.readlink(path)
        if not target.name.startswith("train_"):
            break
        path = target
    name = path.name[: -len(".yaml")] if path.name.endswith(".yaml") else path.name
    return name[len("train_") :] if name.startswith("train_") else name


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("get", help="print a (dotted) key of the config after overrides")
    p.add_argument("config")
    p.add_argument("key", help="e.g. encoder or compressor_conf.stride")
    p.add_argument("--args", default="", help="ESPnet-style overrides (--speechllm_args)")
    p = sub.add_parser("tag", help="print the experiment tag of a config file")
    p.add_argument("config")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    # NOTE: no utils.cli start-up here: speechllm.sh reads stdout in $(...) many times,
    # and a command-line echo on stderr would flood the recipe log.
    args = get_parser().parse_args(argv)
    try:
        if args.cmd == "get":
            print(query(args.config, args.key, args.args))
        else:
            print(config_tag(args.config))
    except (OSError, ValueError, yaml.YAMLError) as e:
        sys.exit(f"config_query {args.cmd}: {e}")


if __name__ == "__main__":
    main()
