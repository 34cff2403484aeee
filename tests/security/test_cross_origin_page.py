"""A hostile page in real headless Chromium: served from a second loopback origin (another
port), it tries to call the gateway with fetch() — JSON and a no-preflight text/plain POST —
to read /v1/models, and to open the UI's socket.io websocket. All are refused, and nothing is
recorded; the same call with the token from a client that is not a page succeeds."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.helpers.faces import count_records
from tests.helpers.studio_server import TOKEN, StudioServer

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><body><script>
const STUDIO = "%(studio)s";
const body = JSON.stringify({model: "pipeline/review-triage", messages: [{role: "user", content: "hi"}]});
const out = {};
async function attempt(name, url, opts) {
  try { const r = await fetch(url, opts); out[name] = "status " + r.status + (r.type === "opaque" ? " (opaque)" : ""); }
  catch (e) { out[name] = "failed: " + e.name; }
}
(async () => {
  await attempt("json", STUDIO + "/v1/chat/completions",
                {method: "POST", headers: {"content-type": "application/json"}, body});
  await attempt("text_plain", STUDIO + "/v1/chat/completions",
                {method: "POST", headers: {"content-type": "text/plain"}, body, mode: "no-cors"});
  await attempt("text_plain_cors", STUDIO + "/v1/chat/completions",
                {method: "POST", headers: {"content-type": "text/plain"}, body});
  await attempt("models", STUDIO + "/v1/models", {});
  await attempt("polling", STUDIO + "/_nicegui_ws/socket.io/?EIO=4&transport=polling", {});
  out.websocket = await new Promise(resolve => {
    const ws = new WebSocket(STUDIO.replace("http", "ws") + "/_nicegui_ws/socket.io/?EIO=4&transport=websocket");
    ws.onopen = () => { resolve("opened"); ws.close(); };
    ws.onerror = () => resolve("refused");
    setTimeout(() => resolve("timeout"), 5000);
  });
  document.title = "done";
  document.body.setAttribute("data-result", JSON.stringify(out));
})();
</script></body></html>"""


def serve_page(html: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            data = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for arg in ("headless", "no-sandbox", "disable-gpu", "disable-dev-shm-usage", "disable-background-networking",
                "disable-component-update", "disable-sync", "no-first-run"):
        options.add_argument(arg)
    driver_path = shutil.which("chromedriver")
    assert driver_path, "chromedriver is not installed (Debian: chromium-driver); the browser tests need it"
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def test_a_page_from_another_origin_cannot_use_the_studio(iom_home):
    studio = StudioServer(iom_home).start()
    page = serve_page(PAGE % {"studio": studio.url})
    driver = chromium()
    try:
        driver.get(f"http://127.0.0.1:{page.server_address[1]}/")
        deadline = time.monotonic() + 30
        while driver.title != "done" and time.monotonic() < deadline:
            time.sleep(0.1)
        result = json.loads(driver.find_element("tag name", "body").get_attribute("data-result"))
        print("\nhostile page:", result)
        # Readable answers (CORS) never come back, and the server refused each request:
        assert result["json"].startswith("failed") and result["text_plain_cors"].startswith("failed")
        assert result["models"].startswith("failed") and result["polling"].startswith("failed")
        assert result["text_plain"] == "status 0 (opaque)"  # sent blind; the server answered 403 (below)
        assert result["websocket"] == "refused"
        time.sleep(1)
        # A client that is not a web page, with the token, gets the same call through:
        ok = httpx.post(studio.url + "/v1/chat/completions", headers={"authorization": f"Bearer {TOKEN}"}, timeout=60,
                        json={"model": "pipeline/review-triage", "messages": [{"role": "user", "content": "hi"}]})
        assert ok.status_code == 200
    finally:
        driver.quit()
        page.shutdown()
        out = studio.stop()
    assert "Traceback" not in out
    assert count_records(iom_home)["runs"] == 1  # only the token-bearing call ran


def test_a_page_from_another_origin_cannot_frame_the_studio(iom_home):
    """A framed studio page is of the studio's origin, so its socket would pass the Origin check
    and a lured click in the frame would press the studio's buttons (clickjacking): the browser
    must refuse to show it at all."""
    studio = StudioServer(iom_home).start()
    page = serve_page(f'<!doctype html><iframe id="studio" src="{studio.url}/settings" width="1200" height="900"></iframe>')
    driver = chromium()
    try:
        driver.get(f"http://127.0.0.1:{page.server_address[1]}/")
        time.sleep(4)  # a page that loaded would have built its buttons by now
        driver.switch_to.frame(driver.find_element("id", "studio"))
        assert driver.find_elements("css selector", "[data-testid=gateway-new]") == []
        assert not driver.execute_script("return !!(window.socket && window.socket.connected)")
        driver.switch_to.default_content()
        # the same page opened by the user (not framed) has the button
        driver.get(studio.url + "/settings")
        deadline = time.monotonic() + 30
        while not driver.find_elements("css selector", "[data-testid=gateway-new]") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert driver.find_elements("css selector", "[data-testid=gateway-new]")
    finally:
        driver.quit()
        page.shutdown()
        out = studio.stop()
    assert "Traceback" not in out
