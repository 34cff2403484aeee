"""Where a running web app can be reached, for the CLI beside it.

The web app writes `IOM_HOME/server.json` ({"pid", "url"}) once it listens and removes it
when it stops; a file left by a killed server names a process that is gone, and is ignored.
The CLI uses it to read analytics through the web app, which owns the database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from studio.atomic import write_json

SERVER_FILE = "server.json"


def local_url(host: str, port: int) -> str:
    """The URL a process on this machine uses: a wildcard bind is reached on loopback."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def announce(home: Path, host: str, port: int) -> None:
    write_json(Path(home) / SERVER_FILE, {"pid": os.getpid(), "url": local_url(host, port)})


def withdraw(home: Path) -> None:
    path = Path(home) / SERVER_FILE
    try:
        if json.loads(path.read_text("utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (FileNotFoundError, ValueError, OSError):
        pass


def running_server(home: Path) -> str | None:
    """The URL of the web app serving this IOM_HOME, or None when none is running."""
    try:
        info = json.loads((Path(home) / SERVER_FILE).read_text("utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
    except (FileNotFoundError, ValueError, KeyError, TypeError, OSError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return url
