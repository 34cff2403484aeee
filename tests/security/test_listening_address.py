"""What the README says is served: by default the studio listens on 127.0.0.1 only (so
http://[::1]:PORT is refused), and IOM_HOST=::1 serves it on the IPv6 loopback, [::1] included
among the Host names it answers."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.studio_server import StudioServer


def test_default_listens_on_127_0_0_1_only(iom_home):
    server = StudioServer(iom_home).start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url + "/v1/models", headers=server.headers, timeout=5).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://[::1]:{server.port}/v1/models", headers=server.headers, timeout=5)
    finally:
        server.stop()


def test_iom_host_ipv6_loopback_serves_on_it(iom_home):
    server = StudioServer(iom_home, IOM_HOST="::1").start()
    try:
        assert server.url == f"http://[::1]:{server.port}"
        assert httpx.get(server.url + "/v1/models", headers=server.headers, timeout=5).status_code == 200
        page = httpx.get(server.url + "/", timeout=10)  # a browser's Host: [::1]:PORT is one of its names
        assert page.status_code == 200 and "IoM Studio" in page.text
    finally:
        server.stop()
