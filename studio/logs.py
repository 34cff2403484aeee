"""What the studio logs (the analytics writer, the output cache, a worker that died …) reaches
the terminal as its sentence: `iom: error: analytics: …`. With nothing set up, Python prints a
record logged with its exception as the whole traceback; IOM_DEBUG=1 shows it as well."""

from __future__ import annotations

import logging
import os


class _Sentence(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"iom: {record.levelname.lower()}: {record.getMessage()}"


def _handler() -> logging.Handler:
    handler = logging.StreamHandler()  # stderr
    if os.environ.get("IOM_DEBUG") != "1":
        handler.setFormatter(_Sentence())
    return handler


def log_sentences_for_a_command() -> None:
    """A CLI command: every logger's warnings, unless logging is set up already (a test run)."""
    logging.basicConfig(level=logging.WARNING, handlers=[_handler()])


def log_sentences_for_the_server() -> None:
    """The web app: the studio's own loggers (NiceGUI and uvicorn keep their set-up)."""
    studio = logging.getLogger("studio")
    if not studio.handlers:
        studio.addHandler(_handler())
        studio.setLevel(logging.WARNING)
        studio.propagate = False
