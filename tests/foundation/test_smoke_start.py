"""`python run.py` serves the studio on 127.0.0.1 and its first page lists the registry."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_py_serves_the_first_page(iom_home):
    port = _free_port()
    env = dict(os.environ, IOM_HOME=str(iom_home), IOM_PORT=str(port), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.pop("PYTEST_CURRENT_TEST", None)  # NiceGUI would think it runs inside a Screen test
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        deadline = time.monotonic() + 60  # generous: this checks it serves, bench/ measures how fast
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                if r.status_code == 200:
                    body = r.text
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert body is not None, f"run.py did not serve (exit {proc.poll()})"
        assert "IoM Studio" in body and "Review triage" in body  # the start page offers the samples
        assert "openai/gpt-4o-mini" in httpx.get(f"http://127.0.0.1:{port}/registry", timeout=10).text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "Traceback" not in out, out


def _serving(port: int, proc, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_the_studio_in_one_line(iom_home, stop):
    """The start line says Ctrl+C stops it; in a terminal Ctrl+C then printed uvicorn's SIGINT
    as a 25-line traceback (tests sent SIGTERM, which never showed it). The port comes as
    --port, which ./scripts/start now passes on. SIGTERM (a supervisor, `timeout`, a closed
    terminal) ended it with 143 and no word after uvicorn's shutdown: it stops as Ctrl+C does."""
    import signal

    port = _free_port()
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.pop("PYTEST_CURRENT_TEST", None)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (see test_batch)
    try:
        proc = subprocess.Popen([sys.executable, "run.py", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, before)
    try:
        assert _serving(port, proc), f"run.py did not serve (exit {proc.poll()})"
        proc.send_signal(getattr(signal, stop))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"IoM Studio: open http://127.0.0.1:{port} in your browser (Ctrl+C stops it)" in err
    assert "Traceback" not in err + out and err.strip().endswith("IoM Studio stopped."), err
    assert proc.returncode == 0
