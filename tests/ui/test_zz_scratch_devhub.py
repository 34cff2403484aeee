# SCRATCH, NOT TO COMMIT: a throwaway hub to exercise the console before the real hub lands.
import json, time, httpx, pytest
from tests.ui import test_console_page as T
from tests.ui.test_console_page import *  # noqa

class DevHub:
    def __init__(self, studio): self.studio = studio
    async def call(self, spec, request, *, on_text=None, context=None):
        from studio.spec.calls import CallResult, Usage, Cost
        key = self.studio.keys.get(spec.key_ref)
        body = {"model": spec.model, "messages": [{"role": "user", "content": request.input.get("prompt", "")}], "stream": True, **request.params}
        t0 = time.perf_counter(); text = ""; ttft = None; usage = Usage()
        async with httpx.AsyncClient() as c:
            async with c.stream("POST", spec.endpoint, json=body, headers={"Authorization": f"Bearer {key}"}) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data: ") or line[6:] == "[DONE]": continue
                    d = json.loads(line[6:])
                    if d.get("usage"): usage = Usage(input_tokens=d["usage"]["prompt_tokens"], output_tokens=d["usage"]["completion_tokens"], source="provider")
                    for ch in d["choices"]:
                        delta = ch["delta"].get("content")
                        if delta:
                            ttft = ttft or (time.perf_counter()-t0)*1000
                            text += delta; on_text and on_text(delta)
        cost = spec.prices.input_per_token*usage.input_tokens + spec.prices.output_per_token*usage.output_tokens
        return CallResult(model_id=spec.id, output={"text": text}, usage=usage, cost=Cost(usd=cost, source="spec"),
                          latency_ms=(time.perf_counter()-t0)*1000, ttft_ms=ttft,
                          raw_request={"url": spec.endpoint, "headers": {"Authorization": f"Bearer {key}"}, "body": body}, raw_response={"text": text})

@pytest.fixture(autouse=True)
def devhub(request):
    if "user" not in request.fixturenames: 
        yield; return
    user = request.getfixturevalue("user")
    import studio.ui.app as a
    s = a.get_studio(); s.providers = DevHub(s)
    yield
