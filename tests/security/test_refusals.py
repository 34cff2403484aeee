"""Through the real server (run.py on a free port): every refusal of the access policy, for
plain requests and websockets alike, and the same calls succeeding with the token from a
client that is not a web page. Nothing refused is recorded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import pytest

from tests.helpers.faces import count_records
from tests.helpers.studio_server import ROOT, TOKEN, StudioServer, cli_env, free_port

CHAT = {"model": "pipeline/review-triage", "messages": [{"role": "user", "content": "Great room, cold breakfast."}]}
GOOD = {"authorization": f"Bearer {TOKEN}"}


def ws_upgrade_status(port: int, host: str, origin: str | None = None) -> int:
    """The HTTP status a websocket handshake to NiceGUI's socket.io endpoint gets."""
    request = (f"GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n" + (f"Origin: {origin}\r\n" if origin else "") + "\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        return int(s.recv(1024).split()[1])


@pytest.fixture
def server(iom_home):
    studio = StudioServer(iom_home).start()
    yield studio
    out = studio.stop()
    assert "Traceback" not in out and TOKEN not in out, out


def test_refusal_matrix(server, iom_home):
    port, url = server.port, server.url
    evil_host = f"evil.example:{port}"
    own = f"http://127.0.0.1:{port}"
    matrix = []

    def check(label: str, status: int, expected: int) -> None:
        matrix.append((label, status))
        assert status == expected, f"{label}: {status} (expected {expected})"

    with httpx.Client(base_url=url, timeout=60) as c:
        check("GET /v1/models, Host evil.example (DNS rebinding)",
              c.get("/v1/models", headers={**GOOD, "host": evil_host}).status_code, 403)
        r = c.get("/", headers={"host": evil_host})
        check("GET / (UI), Host evil.example", r.status_code, 403)
        assert "IOM_ALLOWED_HOSTS" in r.text
        check("GET socket.io polling, Host evil.example",
              c.get("/_nicegui_ws/socket.io/?EIO=4&transport=polling", headers={"host": evil_host}).status_code, 403)
        check("websocket to socket.io, Host evil.example", ws_upgrade_status(port, evil_host), 403)
        check("websocket to socket.io, Origin evil.example",
              ws_upgrade_status(port, f"127.0.0.1:{port}", "http://evil.example"), 403)
        check("websocket to socket.io, Origin another local port",
              ws_upgrade_status(port, f"127.0.0.1:{port}", "http://127.0.0.1:1"), 403)
        r = c.post("/v1/chat/completions", content=str(CHAT).encode(),
                   headers={**GOOD, "content-type": "text/plain", "origin": "http://evil.example"})
        check("POST text/plain from Origin evil.example, with token", r.status_code, 403)
        r = c.post("/v1/chat/completions", json=CHAT, headers={**GOOD, "origin": "http://evil.example"})
        check("POST JSON from Origin evil.example, with token", r.status_code, 403)
        r = c.post("/v1/chat/completions", json=CHAT)
        check("POST JSON without a token", r.status_code, 401)
        assert r.json()["error"]["code"] == "invalid_api_key" and "iom gateway token" in r.json()["error"]["message"]
        check("POST JSON with a wrong token",
              c.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer nope"}).status_code, 401)
        check("GET /v1/models without a token", c.get("/v1/models").status_code, 401)
        check("POST text/plain with the token",
              c.post("/v1/chat/completions", content=b"{}", headers={**GOOD, "content-type": "text/plain"}).status_code, 415)
        check("POST /api/analytics/read without a token",
              c.post("/api/analytics/read", json={"query": "summary", "args": []}).status_code, 401)
        assert not (iom_home / "analytics.duckdb").exists() or count_records_while_running(server) == 0
        # The same calls from a client that is not a web page, with the token, work:
        check("GET /v1/models with the token", c.get("/v1/models", headers=GOOD).status_code, 200)
        check("POST JSON with the token (curl/SDK)", c.post("/v1/chat/completions", json=CHAT, headers=GOOD).status_code, 200)
        check("POST JSON with the token as x-api-key (Anthropic SDK)",
              c.post("/v1/chat/completions", json=CHAT, headers={"x-api-key": TOKEN}).status_code, 200)
        check("POST JSON with the token from the studio's own page",
              c.post("/v1/chat/completions", json=CHAT, headers={**GOOD, "origin": own}).status_code, 200)
        check("GET / (UI) on 127.0.0.1", c.get("/").status_code, 200)
        check("GET / (UI) on localhost", c.get("/", headers={"host": f"localhost:{port}"}).status_code, 200)
        check("websocket to socket.io from the studio's own page", ws_upgrade_status(port, f"127.0.0.1:{port}", own), 101)
    print("\nrefusal matrix:\n" + "\n".join(f"  {status}  {label}" for label, status in matrix))
    server.stop()
    got = count_records(iom_home)
    assert got["runs"] == 3  # exactly the three calls that were let in


def count_records_while_running(server) -> int:
    r = httpx.post(server.url + "/api/analytics/read", json={"query": "summary", "args": []}, headers=GOOD, timeout=60)
    return r.json()["calls"]


def test_serving_beyond_loopback_needs_the_ui_token(iom_home):
    done = subprocess.run([sys.executable, "run.py"], cwd=ROOT, env=cli_env(iom_home, IOM_HOST="0.0.0.0",
                          IOM_PORT=str(free_port())), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "IOM_UI_TOKEN=required" in done.stderr
    assert "NiceGUI ready" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_taken_port_is_one_line_and_exit_1(iom_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for cmd in (["run.py"], ["-m", "studio", "serve", "--port", str(port)]):
            done = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=cli_env(iom_home, IOM_PORT=str(port)),
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 1, done
            assert done.stderr.strip().count("\n") == 0 and f"127.0.0.1:{port}" in done.stderr
            assert "NiceGUI ready" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_second_web_app_on_the_same_data_dir_is_one_line_and_exit_1(server, iom_home):
    """It started without a word, took the database over from the first, wrote its address over
    the first's in server.json and removed the file when it stopped."""
    import json
    import time

    deadline = time.monotonic() + 20
    while not (iom_home / "server.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    first = json.loads((iom_home / "server.json").read_text())
    done = subprocess.run([sys.executable, "run.py"], cwd=ROOT, env=cli_env(iom_home, IOM_PORT=str(free_port())),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done
    assert done.stderr.strip().count("\n") == 0 and f"IoM Studio already serves {iom_home} at {first['url']}" \
        in done.stderr
    assert "NiceGUI ready" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    assert json.loads((iom_home / "server.json").read_text()) == first


def test_a_folder_it_cannot_write_is_one_line_before_it_serves(iom_home):
    """Not a page answering 500 with a traceback in the log (the samples' first write failing)."""
    (iom_home / "a-file").write_text("not a folder")
    home = iom_home / "a-file" / "studio"  # no user, root included, can make this folder
    for cmd in (["run.py"], ["-m", "studio", "serve", "--port", str(free_port())]):
        done = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=cli_env(home, IOM_PORT=str(free_port())),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done
        assert done.stderr.strip().count("\n") == 0 and f"cannot write to its folder {home} (Not a directory)" \
            in done.stderr and "set IOM_HOME to another folder" in done.stderr
        assert "NiceGUI ready" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_full_disk_is_found_before_the_studio_serves(iom_home, monkeypatch):
    """An empty file can be made on a full disk: the check writes a block into it."""
    import errno

    from studio.errors import UserError
    from studio.security.preflight import check_home_writable

    real_write = os.write

    def full(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(iom_home / ".write-test-")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    check_home_writable(iom_home)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(UserError, match=r"cannot write to its folder .* \(No space left on device\)"):
        check_home_writable(iom_home)
    assert not list(iom_home.glob(".write-test-*"))  # the probe does not stay behind


def test_ui_behind_the_token(iom_home):
    server = StudioServer(iom_home, IOM_UI_TOKEN="required").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            r = c.get("/settings")
            assert r.status_code == 303 and r.headers["location"] == "/login?next=/settings"
            assert c.get("/login").status_code == 200
            r = c.post("/login", data={"token": "wrong", "next": "/settings"})
            assert r.status_code == 401 and "That is not this studio" in r.text and "set-cookie" not in r.headers
            r = c.post("/login", data={"token": TOKEN, "next": "https://evil.example/"})
            assert r.status_code == 303 and r.headers["location"] == "/"  # never sends anyone away
            for away in ("/\t/evil.example", "/\n/evil.example", "/\r\nSet-Cookie: x=1", "//evil.example", "/\\evil"):
                r = c.post("/login", data={"token": TOKEN, "next": away})  # a browser drops the tab: //evil.example
                assert r.status_code == 303 and r.headers["location"] == "/", away
            r = c.post("/login", data={"token": TOKEN, "next": "/pipelines/review-triage?run=1"})
            assert r.headers["location"] == "/pipelines/review-triage?run=1"
            assert r.headers["x-frame-options"] == "DENY"
            cookie = r.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
            session = cookie.split(";")[0]
            assert c.get("/settings", headers={"cookie": session}).status_code == 200
            c.cookies.clear()
            assert c.get("/_nicegui_ws/socket.io/?EIO=4&transport=polling").status_code == 401
            assert ws_upgrade_status(server.port, f"127.0.0.1:{server.port}", server.url) == 403
            r = c.get(f"/settings?token={TOKEN}")
            assert r.status_code == 303 and r.headers["location"] == "/settings" and "set-cookie" in r.headers
            assert c.get("/v1/models", headers=GOOD).status_code == 200  # the API still takes the bearer token
    finally:
        out = server.stop()
    assert "Traceback" not in out



def test_an_address_or_home_that_cannot_be_used_is_named_for_what_it_is(tmp_path, monkeypatch):
    """Every bind failure blamed "another program uses that port"; a file as IOM_HOME was told to
    make "the folder" writable; a URL as IOM_HOST was refused as exposure to other machines."""
    from studio.errors import UserError
    from studio.security.preflight import check_binding, check_home_writable, check_port_free

    with pytest.raises(UserError, match="this machine has no such address"):
        check_port_free("192.0.2.99", 0)  # TEST-NET-1: never one of this machine's
    with pytest.raises(UserError, match="is a URL; give an address or a host name"):
        check_binding("http://127.0.0.1")
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_home_writable(afile)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(UserError, match="uses that port"):
            check_port_free("127.0.0.1", taken.getsockname()[1])


def test_the_start_line_names_an_address_a_browser_can_use():
    from studio.ui.app import where_to_open

    assert where_to_open("127.0.0.1", 8080) == "IoM Studio: open http://127.0.0.1:8080 in your browser (Ctrl+C stops it)"
    wide = where_to_open("0.0.0.0", 9000)  # http://0.0.0.0:9000 was printed, and refused (403) by the Guard
    assert wide.startswith("IoM Studio: open http://127.0.0.1:9000") and "IOM_ALLOWED_HOSTS" in wide
    assert "http://[::1]:8080" in where_to_open("::1", 8080)
