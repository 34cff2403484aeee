"""A worker process for the built-in models (studio/providers/local/processes.py).

    python -m studio.providers.local.worker

Reads one JSON request a line on stdin — {"model", "input", "params"}, or {"warm": [names]}
to load those models — and answers each with one JSON line on stdout, in the order asked (the
order is how an answer finds its call): {"output"} or {"error": {…}}, the error as the model
raised it (a ProviderError's kind, detail and status; a UserError's sentence). Ends when stdin
closes.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

from studio.errors import UserError
from studio.providers.errors import ProviderError
from studio.providers.local import LOCAL_MODELS


def answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"output": LOCAL_MODELS[request["model"]].run(request["input"], request["params"])}
    except ProviderError as e:
        return {"error": {"provider": e.kind.value, "detail": e.detail, "status": e.status}}
    except UserError as e:
        return {"error": {"user": str(e)}}
    except Exception as e:  # noqa: BLE001 - a bug in a model: its name and sentence, the worker goes on
        return {"error": {"bug": f"{type(e).__name__}: {e}"}}


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group; the studio ends us by closing stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers, sys.stdout = sys.stdout, sys.stderr  # whatever a library prints cannot break the protocol
    for line in sys.stdin:
        request = json.loads(line)
        if "warm" in request:
            for name in request["warm"]:
                if name in LOCAL_MODELS:
                    LOCAL_MODELS[name].warm()
            reply: dict[str, Any] = {"output": {}}
        else:
            reply = answer(request)
        try:
            answers.write(json.dumps(reply) + "\n")
            answers.flush()
        except BrokenPipeError:  # the studio went (killed, or ended): nobody to answer, end quietly
            return _gone(answers)
    return 0


def _gone(answers) -> int:
    """Leave without the traceback Python prints when it flushes a closed pipe at exit."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), answers.fileno())
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
