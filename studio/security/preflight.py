"""Checks before the server starts, each failing with one sentence: the address is free, and a
studio reachable beyond this machine puts its whole UI behind the token."""

from __future__ import annotations

import os
import socket

from studio.errors import UserError
from studio.security.policy import is_loopback

UI_TOKEN_ENV = "IOM_UI_TOKEN"


def ui_token_required() -> bool:
    return os.environ.get(UI_TOKEN_ENV, "").strip().lower() == "required"


def check_binding(host: str) -> None:
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
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); another program (perhaps another "
                            "IoM Studio) uses that port: stop it, or choose another with IOM_PORT or --port.") from None
