"""The one start-up of every ``python -m espnet_speechllm...`` main, as ESPnet's bin/ do.

::

    def main(argv=None):
        args = parse_args(get_parser(), argv)   # command line to stderr, log format set

Logs look like ESPnet's (``espnet2/bin/*``)::

    2026-12-01 22:10:00,123 (score:88) INFO: message
"""

import argparse
import logging
import shlex
import sys
from typing import Optional, Sequence

# NOTE: ESPnet's own bin/ scripts use this format (and print the command line first).
ESPNET_LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"

_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")


def command_line(argv: Optional[Sequence[str]] = None, prog: str = "") -> str:
    """The command as a shell line: ``sys.argv`` by default, else ``prog argv...``."""
    words = [sys.executable, *sys.argv] if argv is None else [prog, *argv]
    return shlex.join(words)


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger with ESPnet's format (a no-op if already configured)."""
    logging.basicConfig(level=level.upper(), format=ESPNET_LOG_FORMAT)


def parse_args(
    parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None
) -> argparse.Namespace:
    """Print the command line to stderr, parse it, and set up logging.

    Adds ``--log_level`` (ESPnet's option name) unless the parser has it.

    Args:
        parser: The main's parser.
        argv: The arguments; None reads ``sys.argv``.
    """
    if parser.get_default("log_level") is None:
        parser.add_argument(
            "--log_level",
            type=str.upper,
            default="INFO",
            choices=_LOG_LEVELS,
            help="Logging level",
        )
    print(command_line(argv, parser.prog), file=sys.stderr)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    return args
