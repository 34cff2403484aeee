"""The command line: `iom …` and `python -m studio …`, a thin face over the Studio core.

Exit codes: 0 success, 1 a user error (one line on stderr), 2 bad usage (argparse).
Each command group lives in its own module with a `register(subparsers)` function.
"""

from __future__ import annotations

import argparse
import sys


def command_modules() -> list:
    """Each command group's module, imported when a command runs (not with this package: a
    Ctrl-C during these imports is then caught by main, not printed as a traceback)."""
    from studio.cli import analytics, batch, cache, datasets, eval, gateway, invoke, keys, models, pipelines, run, serve

    return [serve, models, invoke, pipelines, run, keys, analytics, datasets, batch, eval, gateway, cache]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iom",
        description="IoM Studio: one registry, pipelines, a console and analytics for many AI models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
        module.register(sub)
    return parser


def stop_as_ctrl_c() -> None:
    """SIGTERM (a closed terminal, `timeout`, a supervisor, a shutdown) stops a command as Ctrl-C
    does: a batch says how many rows are done and kept, nothing prints a traceback; the web app
    (run.py) says it stopped and exits 0 (uvicorn re-raises the signal after its shutdown, and
    the default action ended the process with 143 and no word)."""
    import os
    import signal

    def stop(*_) -> None:
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # a script's background job: Ctrl-C's signal
            raise KeyboardInterrupt  # is ignored there, so sent on it did nothing and the command ran on
        os.kill(os.getpid(), signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the command line itself (tests call main with their arguments, in their process)
        stop_as_ctrl_c()
    try:
        for stream in (sys.stdout, sys.stderr):  # any text prints, even a lone surrogate from a provider
            if hasattr(stream, "reconfigure"):
                stream.reconfigure(errors="backslashreplace")
        from studio.cli.common import run_command
        from studio.logs import log_sentences_for_a_command

        log_sentences_for_a_command()
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:  # pressed while the studio was still loading: nothing was done yet
        print("error: interrupted before anything was done.", file=sys.stderr)
        return 130
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
