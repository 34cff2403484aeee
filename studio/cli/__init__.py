"""The command line: `iom …` and `python -m studio …`, a thin face over the Studio core.

Exit codes: 0 success, 1 a user error (one line on stderr), 2 bad usage (argparse).
Each command group lives in its own module with a `register(subparsers)` function.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from studio.cli import analytics, batch, cache, datasets, eval, gateway, invoke, keys, models, pipelines, run, serve
from studio.cli.common import run_command

COMMAND_MODULES = [serve, models, invoke, pipelines, run, keys, analytics, datasets, batch, eval, gateway, cache]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iom",
        description="IoM Studio: one registry, pipelines, a console and analytics for many AI models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


class _Sentence(logging.Formatter):
    """What the studio logs while a command runs (the analytics writer, the output cache …),
    as its one sentence: with no logging set up, Python printed a record logged with its
    exception as the whole traceback. IOM_DEBUG=1 shows the traceback as well."""

    def format(self, record: logging.LogRecord) -> str:
        return f"iom: {record.levelname.lower()}: {record.getMessage()}"


def _log_to_terminal() -> None:
    handler = logging.StreamHandler()  # stderr
    if os.environ.get("IOM_DEBUG") != "1":
        handler.setFormatter(_Sentence())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])  # a no-op where logging is set up already


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # any text prints, even a lone surrogate from a provider
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    _log_to_terminal()
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
