"""Checks before the server starts, each failing with one sentence: the address is free, and a
studio reachable beyond this machine puts its whole UI behind the token."""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path

from studio.errors import UserError, disk_fault
from studio.security.policy import is_loopback

UI_TOKEN_ENV = "IOM_UI_TOKEN"


def ui_token_required() -> bool:
    return os.environ.get(UI_TOKEN_ENV, "").strip().lower() == "required"


def check_binding(host: str) -> None:
    if "://" in host or "/" in host:
        raise UserError(f"IOM_HOST={host} is a URL; give an address or a host name, such as 127.0.0.1.")
    if not is_loopback(host) and not ui_token_required():
        raise UserError(f"IOM_HOST={host} makes the studio (and the API keys it holds) reachable from other "
                        f"machines; set {UI_TOKEN_ENV}=required to put the whole UI behind the gateway token, "
                        "or serve on 127.0.0.1.")


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except socket.gaierror:
            raise UserError(f"cannot listen on {host}: no such host name here; give this machine's address "
                            "(IOM_HOST or --host), such as 127.0.0.1.") from None
        except OSError as e:
            if e.errno == errno.EADDRNOTAVAIL:
                raise UserError(f"cannot listen on {host}: this machine has no such address; give one of its own "
                                "(IOM_HOST or --host), such as 127.0.0.1.") from None
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); another program (perhaps another "
                            "IoM Studio) uses that port: stop it, or choose another with IOM_PORT or --port.") from None


def check_home_writable(home: Path) -> None:
    """The studio writes its registry, records and settings under IOM_HOME from its first page
    on: a folder it cannot write (read-only, full, not its owner's) is said before it serves."""
    if home.exists() and not home.is_dir():
        raise UserError(f"IOM_HOME={home} is a file, not a folder; set IOM_HOME to a folder (it is made if it is "
                        "not there), then start again.")
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)  # this user's only, as paths.data_home makes it
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=home)
        try:
            os.write(fd, b"\n" * 4096)  # a full disk refuses the data, not always the name
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise UserError(f"IoM Studio cannot write to its folder {home} ({disk_fault(e)}): it keeps its models, "
                        "pipelines and records there; make the folder writable (or free space on its disk), or set "
                        "IOM_HOME to another folder, then start again.") from None


def check_not_served(home: Path) -> None:
    """One web app per data dir: a second one took the analytics database over from the first,
    wrote its own address over the first's in server.json and removed it when it stopped, so
    the commands beside them lost the server that still ran."""
    from urllib.parse import urlsplit

    from studio.serverinfo import running_server

    url = running_server(home)
    if url is None:
        return
    where = urlsplit(url)
    try:  # a file left by a killed server whose process id was given to another program
        socket.create_connection((where.hostname, where.port), timeout=1).close()
    except OSError:
        return
    raise UserError(f"IoM Studio already serves {home} at {url}; open that one, or stop it (Ctrl+C where it runs) "
                    "before starting another here, or set IOM_HOME to another folder.")
