"""The web app's one Studio (studio/ui/app.py): built once however many threads ask first, and
kept by the server when a caller built it for the same data dir before the server started."""

from __future__ import annotations

import threading
import time

import pytest

from studio.core import Studio
from studio.spec.records import CallRecord
from studio.ui import app


@pytest.fixture
def no_studio_yet(monkeypatch):
    monkeypatch.setattr(app, "_studio", None)
    yield
    app.reset_studio()


def test_threads_asking_at_once_get_one_studio(iom_home, monkeypatch, no_studio_yet):
    built = []

    class SlowStudio(Studio):  # the window in which a second thread used to build its own
        def __init__(self):
            built.append(self)
            time.sleep(0.2)
            super().__init__(seed_samples=False)

    monkeypatch.setattr(app, "Studio", SlowStudio)
    start = threading.Barrier(4)
    got = []

    def ask():
        start.wait()
        got.append(app.get_studio())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert all(s is built[0] for s in got)


def test_the_server_keeps_a_studio_of_its_data_dir_and_replaces_another(iom_home, tmp_path, no_studio_yet):
    seeded = app.get_studio()  # a test seeding the data the page will show, before serve()
    seeded.analytics.record_call(CallRecord(id="seeded", model_id="m/a", provider="p"))
    seeded.analytics.flush()  # it owns the analytics database now
    app.reset_studio(keep_home=iom_home)  # what serve() does as it starts
    assert app.get_studio() is seeded
    app.reset_studio(keep_home=tmp_path / "elsewhere")
    assert app._studio is None  # closed; the next use builds one for the current IOM_HOME
    fresh = app.get_studio()
    assert fresh is not seeded
    assert fresh.analytics.read(lambda cur: cur.execute("SELECT count(*) FROM calls").fetchone()[0]) == 1
