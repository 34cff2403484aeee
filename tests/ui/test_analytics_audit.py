"""The Analytics page shows the audit trail it records: a Recent calls row (or a call or request
id typed in) opens the call with its figures, which model answered, its input and output and its
ids; the run dialog's node line says the node's retries and fallback, its whole time as the
timeline draws it, and that its failed attempts are unpriced. Calls made through the loopback fake."""

from __future__ import annotations

from datetime import datetime

from nicegui.testing import User

from studio import formats
from studio.analytics import queries as q
from studio.spec import load_pipeline
from studio.spec.calls import CallRequest
from tests.analytics.audit_setup import (ANSWER, ATTEMPTS, KEY, PROVIDER_REQUEST_ID, QUESTION, RETRYING,
                                         loopback_models)
from tests.fakes.provider_server import FakeProvider
from tests.ui.util import by_testid, element, set_value, table_rows, wait_until


def _dialog_texts(user: User) -> dict[str, str]:
    return {t: element(user, t).text for t in ("call-figures", "call-model", "call-ids", "call-input", "call-output")}


async def test_a_recent_call_opens_with_its_input_and_output_by_row_and_by_request_id(user: User, monkeypatch):
    from studio.ui.app import get_studio

    studio = get_studio()
    with FakeProvider() as fake:
        loopback_models(studio.models, fake, monkeypatch)
        await studio.providers.call(studio.models.get("loop/ok"),
                                    CallRequest(model_id="loop/ok", input={"prompt": QUESTION}))
    await user.open("/analytics")
    await wait_until(lambda: table_rows(user, "recent-calls"), "the recorded call in Recent calls")
    [row] = table_rows(user, "recent-calls")
    by_testid(user, "recent-calls").trigger("rowClick", [{}, {"id": row["id"]}, 0])
    await wait_until(lambda: any(e.props.get("data-testid") == "call-output" for e in user.current_layout.descendants()),
                     "the call's dialog")
    texts = _dialog_texts(user)
    assert "ok · latency" in texts["call-figures"] and "12 → 6 tokens" in texts["call-figures"]
    assert texts["call-model"] == "Answered by: loop/ok (openai)"
    assert texts["call-ids"] == f"call id {row['id']} · provider request id {PROVIDER_REQUEST_ID}"
    assert QUESTION in texts["call-input"] and ANSWER in texts["call-output"]
    assert "max-h-72" in element(user, "call-output").classes  # long content scrolls inside the dialog
    assert KEY not in " ".join(texts.values())
    for e in [e for e in user.current_layout.descendants() if e.props.get("data-testid") == "call-dialog"]:
        with user.client:
            e.parent_slot.parent.close()  # the dialog goes, as at its Close button
    await wait_until(lambda: not [e for e in user.current_layout.descendants()
                                  if e.props.get("data-testid") == "call-dialog"], "the dialog closed")

    set_value(user, "find-call", PROVIDER_REQUEST_ID)  # the id `iom invoke --json` said
    user.find("Show call").click()
    await wait_until(lambda: any(e.props.get("data-testid") == "call-output" for e in user.current_layout.descendants()),
                     "the call's dialog by its request id")
    assert _dialog_texts(user) == texts


async def test_the_run_dialog_says_a_nodes_retries_fallback_wall_time_and_unpriced_attempts(user: User, monkeypatch):
    from studio.ui.app import get_studio

    studio = get_studio()
    with FakeProvider() as fake:
        loopback_models(studio.models, fake, monkeypatch)
        record = await studio.engine.run(load_pipeline(RETRYING), {"text": "hi"})
    assert record.status == "succeeded"
    run = studio.analytics.read(q.get_run, record.id)
    node = next(n for n in run["nodes"] if n["node_id"] == "a")
    wall = (node["ended"] - node["started"]).total_seconds() * 1000
    await user.open("/analytics")
    await wait_until(lambda: table_rows(user, "run-history"), "the run in Run history")
    by_testid(user, "run-history").trigger("rowClick", [{}, {"id": record.id}, 0])
    await wait_until(lambda: any(e.props.get("data-testid") == "run-node-a" for e in user.current_layout.descendants()),
                     "the run's dialog")
    line = element(user, "run-node-a")
    assert line.props.get("caption") == ATTEMPTS  # the line under the node's figures
    assert f" · {formats.latency(wall)} · " in line.props["label"], line.props["label"]
    assert f" · {formats.latency(node['latency_ms'])} · " not in line.props["label"]  # not the answering call's alone
