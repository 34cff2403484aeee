"""A provider may answer with a lone surrogate: JSON's "\\ud83d" escape without its pair, which
json reads into a str that UTF-8 cannot spell, so no file, database or page can hold it. The
adapters read it as U+FFFD, plain and streamed, so everything after them (the output cache, the
audit trail, a batch's rows) takes the answer. Before, a batch stopped with a UnicodeEncodeError
traceback, a cached node failed its run, and the analytics writer failed every batch from
then on, so nothing more was recorded."""

from __future__ import annotations

from studio.core import Studio
from studio.engine import RunOptions
from studio.eval.batch import load_rows, plan_batch, run_batch
from studio.spec import load_pipeline
from studio.spec.calls import CallRequest
from tests.fakes.provider_server import FakeProvider, Reply, sse
from tests.providers.test_stream_numbers import _events
from tests.ui.fake_chat import CHAT_PATH, plain_answer, save_loopback_model

LONE = ('{"id": "c1", "object": "chat.completion", "model": "loop-1", "choices": [{"index": 0, "message": '
        '{"role": "assistant", "content": "half \\ud83d of a pair"}, "finish_reason": "stop"}], '
        '"usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}')
READ = "half \ufffd of a pair"

PIPELINE = {
    "format": "iom.pipeline", "version": 1, "id": "one-call", "name": "One call",
    "nodes": [{"id": "in", "kind": "input"},
              {"id": "llm", "kind": "model", "model": "loop/chat", "prompt": "{{ text }}", "policy": {"cache": True}},
              {"id": "out", "kind": "output"}],
    "edges": [{"id": "e1", "source": "in", "target": "llm", "sourcePort": "out", "targetPort": "in"},
              {"id": "e2", "source": "llm", "target": "out", "sourcePort": "text", "targetPort": "text"}]}


async def test_a_stream_reads_a_lone_surrogate_as_ufffd_and_keeps_a_pair():
    events = await _events([b'data: {"t": "a \\ud800 b", "k\\udc00": 1}\n\n',
                            b'data: {"t": "\\ud83d\\ude00"}\n\n', b"data: [DONE]\n\n"])
    assert events[:2] == [{"t": "a \ufffd b", "k\ufffd": 1}, {"t": "\U0001f600"}]


async def test_an_answer_with_a_lone_surrogate_runs_caches_records_and_batches(iom_home, memory_keyring, tmp_path):
    s = Studio(iom_home)
    data = tmp_path / "rows.csv"
    data.write_text("text\nq3\nq4\n", encoding="utf-8")
    try:
        with FakeProvider() as fake:
            streamed = sse({"id": "c1", "object": "chat.completion.chunk", "model": "loop-1",
                            "choices": [{"index": 0, "delta": {"content": "streamed \udc00"}, "finish_reason": "stop"}]})
            fake.reply(CHAT_PATH, Reply(raw=LONE), plain_answer("fine"), Reply(raw=LONE), Reply(raw=LONE))
            save_loopback_model(s, fake)
            s.pipelines.save(load_pipeline(PIPELINE))
            pipeline = s.pipelines.get("one-call")
            first = await s.engine.run(pipeline, {"text": "q1"}, RunOptions())
            again = await s.engine.run(pipeline, {"text": "q1"}, RunOptions())  # served by the output cache
            later = await s.engine.run(pipeline, {"text": "q2"}, RunOptions())
            plan = plan_batch(s, "one-call", str(data), concurrency=2, use_cache=False)
            agg = await run_batch(s, plan)
            fake.reply(CHAT_PATH, Reply(chunks=streamed, content_type="text/event-stream"))
            answer = await s.providers.call(s.models.get("loop/chat"),
                                            CallRequest(model_id="loop/chat", input={"prompt": "q5"}, stream=True))
            await s.aclose()
        assert (first.status, again.status, later.status) == ("succeeded",) * 3, first.error
        assert first.outputs["text"] == again.outputs["text"] == READ and later.outputs["text"] == "fine"
        assert again.nodes["llm"].status == "cached"
        assert agg["succeeded"] == 2
        assert [row["output"]["text"] for row in load_rows(iom_home, plan.id).values()] == [READ, READ]
        assert answer.output["text"] == "streamed \ufffd"

        def stored(cur):
            return cur.execute("SELECT c.run_id, c.cache_hit, b.body FROM calls c"
                               " LEFT JOIN audit_blobs b ON b.sha256 = c.output_hash WHERE c.run_id IN (?, ?, ?)",
                               [first.id, again.id, later.id]).fetchall()
        calls = {run_id: (hit, body) for run_id, hit, body in s.analytics.read(stored)}
        assert s.analytics.write_errors == 0
        assert calls == {first.id: (False, f'{{"finishReason":"stop","text":"{READ}"}}'),
                         again.id: (True, f'{{"finishReason":"stop","text":"{READ}"}}'),
                         later.id: (False, '{"finishReason":"stop","text":"fine"}')}
    finally:
        s.close()
