"""A run's calls come back in the order they were made: call times were whole seconds, and
`get_run` sorts by time then by the random id, so a fallback's answer was listed before the
retry that came first."""

from __future__ import annotations

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.providers.errors import ProviderError
from studio.providers.hub import CallContext, ProviderHub
from studio.spec.records import RunRecord
from studio.spec.base import utcnow_exact
from tests.fakes.provider_server import FakeProvider, Reply
from tests.providers.conftest import SECRET, DictKeys, make_spec, req

PATH = "/v1/chat/completions"
ANSWER = {"id": "x", "object": "chat.completion", "model": "m-1",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


async def test_a_runs_calls_come_back_in_the_order_made(iom_home):
    store = AnalyticsStore(iom_home)
    hub = ProviderHub(keys=DictKeys({"TEST_KEY": SECRET}), recorder=store)
    made = []
    try:
        with FakeProvider() as fake:
            first, fallback = make_spec("openai-chat", fake.url(PATH)), make_spec("openai-chat", fake.url("/fb" + PATH))
            run = RunRecord(id="r1", pipeline_id="p", status="running")
            # three rounds of: an attempt that fails, its retry that fails, the fallback that answers;
            # each call's id sorts before the one made earlier, as random ids may
            for round in range(3):
                fake.reply(PATH, Reply(status=500, json={"error": {"message": "down"}}),
                           Reply(status=500, json={"error": {"message": "down"}}))
                fake.reply("/fb" + PATH, Reply(json=ANSWER))
                for spec, fell_back_from in ((first, None), (first, None), (fallback, first.id)):
                    call_id = f"id-{99 - len(made)}"
                    made.append(call_id)
                    context = CallContext(pipeline_id="p", run_id="r1", node_id="a", call_id=call_id,
                                          fell_back_from=fell_back_from)
                    try:
                        await hub.call(spec, req({"prompt": f"round {round}"}), context=context)
                    except ProviderError:
                        pass
            store.record_run(run.model_copy(update={"status": "succeeded", "ended": utcnow_exact()}))
        got = store.read(q.get_run, "r1")
    finally:
        await hub.aclose()
        store.close()
    assert [c["id"] for c in got["calls"]] == made
    assert [c["status"] for c in got["calls"]] == ["error", "error", "ok"] * 3


def test_the_cli_shows_run_times_to_the_second(iom_home, capsys):
    """Times are kept to the microsecond now; the text says whole seconds, as the page does."""
    from datetime import datetime, timezone

    from studio.cli import main

    store = AnalyticsStore(iom_home)
    started = datetime(2026, 1, 10, 10, 0, 1, 234567, tzinfo=timezone.utc)
    store.record_run(RunRecord(id="r1", pipeline_id="p", status="succeeded", started=started, ended=started))
    store.close()
    assert main(["runs", "list"]) == 0
    assert "2026-01-10 10:00:01 " in capsys.readouterr().out
    assert main(["runs", "show", "r1"]) == 0
    assert "started 2026-01-10 10:00:01 UTC" in capsys.readouterr().out
