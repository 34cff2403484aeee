"""The command line: `iom …` and `python -m studio …`, a thin face over the Studio core.

Exit codes: 0 success, 1 a user error (one line on stderr), 2 bad usage (argparse).
Each command group lives in its own module with a `register(subparsers)` function.
"""

from __future__ import annotations

import argparse
import sys

from studio.cli import analytics, batch, cache, datasets, eval, gateway, invoke, keys, models, pipelines, run, serve
from studio.cli.common import run_command
from studio.logs import log_sentences_for_a_command

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


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # any text prints, even a lone surrogate from a provider
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    log_sentences_for_a_command()
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
