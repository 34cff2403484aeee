"""The start keeps the imported modules out of the garbage collector's passes, and leaves the
collector on (run.py turns it off while importing; studio/ui/app.py serve() turns it back on)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_server_started_by_run_py_runs_with_the_collector_on(tmp_path):
    """run.py through serve() up to the point where the server would start listening."""
    probe = ("import gc, runpy, nicegui.ui as ui\n"
             "ui.run = lambda **kw: print('collector', gc.isenabled(), 'frozen', gc.get_freeze_count() > 10000)\n"
             "runpy.run_path('run.py', run_name='__main__')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env.update(IOM_HOME=str(tmp_path), IOM_PORT=str(port), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "collector True frozen True" in done.stdout
