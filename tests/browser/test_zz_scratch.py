# SCRATCH NOT TO COMMIT
import pytest, sys
sys.path.insert(0, "/tmp")
from devhub_scratch import DevHub
from tests.browser.test_console_browser import *  # noqa
@pytest.fixture(autouse=True)
def patch_hub(monkeypatch):
    import studio.core as c
    orig = c.Studio.__init__
    def init(self, *a, **k):
        orig(self, *a, **k); self.providers = DevHub(self)
    monkeypatch.setattr(c.Studio, "__init__", init)
