"""The studio's real server (run.py) in a subprocess on a free loopback port, for tests and
benches that talk to it over HTTP the way a user's tools do. The gateway token is fixed through
IOM_GATEWAY_TOKEN so clients know it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from studio.serverinfo import local_url

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-gateway-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a studio process in tests: its own IOM_HOME, no OS keyring."""
    env = dict(os.environ, IOM_HOME=str(home), IOM_GATEWAY_TOKEN=TOKEN,
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


class StudioServer:
    def __init__(self, home: Path, **env: str):
        self.home = Path(home)
        self.port = free_port()
        self.url = local_url(env.get("IOM_HOST", "127.0.0.1"), self.port)
        self.env = cli_env(self.home, IOM_PORT=str(self.port), **env)
        self.proc: subprocess.Popen | None = None
        self.output = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {TOKEN}"}

    def start(self, timeout: float = 60) -> "StudioServer":
        self.proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the studio exited with {self.proc.returncode}: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/v1/models", headers=self.headers, timeout=2).status_code == 200 \
                        and (self.home / "server.json").exists():
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the studio did not answer within the timeout")

    def stop(self) -> str:
        """SIGTERM (a clean shutdown) and the server's output."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.output, _ = self.proc.communicate(timeout=90)
        return self.output

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.output, _ = self.proc.communicate(timeout=30)
