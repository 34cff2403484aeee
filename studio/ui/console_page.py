"""The test console (`/console`): one call to one model, its text streaming in as it arrives.

Input comes from a form generated from the model's input schema or from a raw JSON tab; the
call goes through the provider hub (`services.call_model`), which validates, streams, prices
and records it. Raw request and response are shown redacted. The history is this page's
session only (the analytics view keeps the permanent record)."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nicegui import ui

from studio.errors import UserError
from studio.formats import data_size
from studio.secrets import redact_data
from studio.spec.calls import CallRequest
from studio.spec.chat import CHAT_TYPES, expand_shorthand
from studio.spec.chat import example_input as canonical_example
from studio.spec.model import ModelSpec
from studio.ui import services
from studio.ui.app import get_studio
from studio.ui.result_view import result_view
from studio.ui.schema_form import (IMAGE_ACCEPT, MAX_IMAGE_BYTES, FormField, collect_input, fields_for, form_values_of,
                                   image_data_url, image_refusal, input_problem, split_images)
from studio.ui.shell import frame
from studio.ui.threads import io_bound
from studio.ui.widgets import error_sentence, json_text, money, notify_error

@dataclass
class Attempt:
    """One console call as the history keeps it."""

    number: int
    model_id: str
    started: datetime
    state: str = "running"  # running, ok, error, cancelled
    text: str = ""
    output: Any = None
    error: str = ""
    result: Any = None
    request: dict = field(default_factory=dict)


def metrics_for(result) -> dict[str, str]:
    u = result.usage
    return {
        "Latency": f"{result.latency_ms:.0f} ms",
        "TTFT": f"{result.ttft_ms:.0f} ms" if result.ttft_ms is not None else "—",
        "Tokens": f"{u.input_tokens} in / {u.output_tokens} out" + ("" if u.source == "provider" else f" ({u.source})"),
        "Cost": money(result.cost.usd),
    }


# the form's fields are not clamped when left (NiceGUI does that on blur, so a Run clicked
# straight after typing 5 sent 5 while the field then showed 2): what they hold is checked here
PARAM_RANGES = {"temperature": ("Temperature", 0, 2), "top_p": ("Top p", 0, 1), "max_tokens": ("Max tokens", 1, None)}


def build_params(values: dict[str, Any], extra_text: str) -> dict[str, Any]:
    """The params of the call: the set ones of the form plus the extra JSON object."""
    params = {k: v for k, v in values.items() if v not in (None, "")}
    for name, (label, low, high) in PARAM_RANGES.items():
        value = params.get(name)
        if value is not None and (value < low or (high is not None and value > high)
                                  or (name == "max_tokens" and value != int(value))):
            takes = f"from {low} to {high}" if high is not None else f"a whole number from {low}"
            raise UserError(f"{label} takes {takes}; it is {value:g}. Nothing was sent.")
    if "max_tokens" in params:
        params["max_tokens"] = int(params["max_tokens"])
    if extra_text.strip():
        try:
            extra = json.loads(extra_text)
        except json.JSONDecodeError as e:
            raise UserError(f"Extra params are not valid JSON (line {e.lineno}: {e.msg}).") from None
        if not isinstance(extra, dict):
            raise UserError("Extra params must be a JSON object, e.g. {\"stop\": [\"\\n\"]}.")
        params.update(extra)
    return params


async def console_page(model: str | None = None) -> None:
    studio = get_studio()
    specs: dict[str, ModelSpec] = {s.id: s for s in await io_bound(studio.models.all)}
    history: list[Attempt] = []
    # shown: the attempt the answer panel shows (None once another model is picked)
    state: dict[str, Any] = {"model": model if model in specs else None, "task": None, "shown": None}
    form_values: dict[str, Any] = {}
    attached: dict[str, list[str]] = {}  # an images field's uploaded files (data: URLs), beside its links
    redraw_images: dict[str, Any] = {}  # an images field's thumbnails, drawn again after a change
    # an uploaded file as the Raw JSON tab names it ("file 1: cat.png (2.1 MB)") → its data: URL: the
    # tab stays readable, and an edit of it is not megabytes sent back (the socket refuses over 1 MB)
    file_labels: dict[str, str] = {}
    files_added = itertools.count(1)
    param_values: dict[str, Any] = {"temperature": None, "max_tokens": None, "top_p": None}
    raw = {"input": "{}", "params": ""}

    with frame("Console"):
        if not services.can_call(studio):
            with ui.row().classes("items-center gap-2 text-warning"):
                ui.icon("warning")
                ui.label(services.NO_HUB)
        with ui.row().classes("w-full gap-4 no-wrap items-start"):
            # -- left: what to send -------------------------------------------------------
            with ui.column().classes("w-1/2 gap-2"):
                missing = await services.keys_in_time(services.missing_keys, studio, list(specs.values()), default={})
                options = {i: f"{s.name} · {i}" + (f" — needs {s.key_ref}" if i in missing else "")
                           for i, s in specs.items()}
                picker = ui.select(options, label="Model", with_input=True, value=state["model"]) \
                    .props('outlined dense data-testid=model-picker').classes("w-full")
                model_note = ui.label().classes("text-xs opacity-70")
                key_hint = ui.row().classes("items-center gap-2 text-warning text-sm").props("data-testid=key-hint")
                with ui.tabs().props("dense align=left").classes("w-full") as in_tabs:
                    tab_form = ui.tab("Form")
                    tab_raw = ui.tab("Raw JSON").props("data-testid=tab-raw")
                with ui.tab_panels(in_tabs, value=tab_form).classes("w-full").props("keep-alive") as in_panels:
                    with ui.tab_panel(tab_form).classes("p-0"):
                        form_box = ui.column().classes("w-full gap-1")
                    with ui.tab_panel(tab_raw).classes("p-0"):
                        ui.textarea("Input (JSON)").bind_value(raw, "input").classes("w-full font-mono") \
                            .props("outlined autogrow spellcheck=false data-testid=raw-input")
                with ui.expansion("Params", icon="tune").classes("w-full").props("dense") as params_box:
                    with ui.row().classes("w-full gap-2"):
                        ui.number("Temperature", step=0.1).bind_value(param_values, "temperature") \
                            .props("dense outlined data-testid=temperature").classes("w-32")
                        ui.number("Max tokens").bind_value(param_values, "max_tokens") \
                            .props("dense outlined data-testid=max-tokens").classes("w-32")
                        ui.number("Top p", step=0.05).bind_value(param_values, "top_p") \
                            .props("dense outlined").classes("w-28")
                    ui.input("Extra params (JSON object)").bind_value(raw, "params") \
                        .props("dense outlined spellcheck=false").classes("w-full font-mono")
                with ui.row().classes("gap-2 items-center"):
                    run_button = ui.button("Run", icon="play_arrow", on_click=lambda: start()) \
                        .props("data-testid=run").tooltip("Run (Ctrl+Enter)")
                    cancel_button = ui.button("Cancel", icon="stop", on_click=lambda: cancel()) \
                        .props("outline data-testid=cancel")
                    cancel_button.disable()
                    status = ui.label().classes("text-sm").props("data-testid=status")
            # -- right: what came back ----------------------------------------------------
            with ui.column().classes("w-1/2 gap-2"):
                with ui.row().classes("w-full gap-4 text-sm") as metrics_row:
                    pass
                with ui.tabs().props("dense align=left").classes("w-full") as out_tabs:
                    tab_out = ui.tab("Output")
                    tab_req = ui.tab("Raw request")
                    tab_resp = ui.tab("Raw response")
                with ui.tab_panels(out_tabs, value=tab_out).classes("w-full"):
                    with ui.tab_panel(tab_out).classes("p-0"):
                        output = ui.label().classes(
                            "w-full min-h-[8rem] max-h-[40vh] overflow-auto whitespace-pre-wrap p-3 rounded "
                            "border border-gray-300 dark:border-gray-600"
                        ).props("data-testid=output")
                        result_box = ui.column().classes("w-full gap-0")
                        error_label = ui.label().classes("text-negative").props("data-testid=call-error")
                    with ui.tab_panel(tab_req).classes("p-0"):
                        raw_request = ui.label().classes("font-mono text-xs whitespace-pre w-full overflow-auto max-h-[40vh]") \
                            .props("data-testid=raw-request")
                    with ui.tab_panel(tab_resp).classes("p-0"):
                        raw_response = ui.label().classes("font-mono text-xs whitespace-pre w-full overflow-auto max-h-[40vh]") \
                            .props("data-testid=raw-response")
        ui.label("This session's calls").classes("text-subtitle1")
        history_table = ui.table(
            columns=[
                {"name": "n", "label": "#", "field": "n", "align": "right"},
                {"name": "time", "label": "Time", "field": "time", "align": "left"},
                {"name": "model", "label": "Model", "field": "model", "align": "left"},
                {"name": "state", "label": "Result", "field": "state", "align": "left"},
                {"name": "latency", "label": "Latency", "field": "latency", "align": "right"},
                {"name": "tokens", "label": "Tokens", "field": "tokens", "align": "left"},
                {"name": "cost", "label": "Cost", "field": "cost", "align": "left"},
            ],
            rows=[], row_key="n", pagination={"rowsPerPage": 0},
        ).classes("w-full").props("flat bordered dense hide-bottom data-testid=history")
        history_table.on("rowClick", lambda e: show_attempt(history[int(e.args[1]["n"]) - 1]))

    # -- behaviour ----------------------------------------------------------------------------
    fields: list[FormField] = []

    def build_form() -> None:
        nonlocal fields
        form_box.clear()
        form_values.clear()
        attached.clear()
        redraw_images.clear()
        file_labels.clear()
        spec = specs.get(state["model"])
        if spec is None:
            key_hint.clear()
            model_note.text = "Pick a model to call."
            fields = []
            return
        key_hint.clear()
        if spec.id in missing:
            with key_hint:
                ui.icon("key_off")
                ui.label(f"{spec.key_ref} is not set, so a call will be refused.")
                ui.link("Set it in Settings", "/settings")
        model_note.text = f"{spec.provider} · {spec.api} · {spec.model_type}" + \
            (" · incomplete: set the provider's model name first" if spec.incomplete else "") + \
            (" · faults injected (test mode)" if spec.faults and spec.faults.enabled else "")
        fields = fields_for(spec.input_schema)
        # Another model's params start from its own defaults: a temperature typed for the last
        # one carried over (clamped to this one's range, without a word).
        for k in param_values:
            param_values[k] = spec.default_params.get(k)
        raw["params"] = ""
        params_box.set_visibility(True)
        prefill = form_values_of(fields, first_example(spec))
        with form_box:
            if not fields:
                ui.label("This schema has no fields to fill in; use the Raw JSON tab.").classes("text-sm opacity-70")
            for f in fields:
                form_values[f.name] = f.default if f.default is not None else prefill.get(f.name)
                label = f.name + (" *" if f.required else "")
                if f.kind == "enum":
                    el = ui.select(f.options or [], label=label)
                elif f.kind in ("number", "integer"):
                    el = ui.number(label, precision=0 if f.kind == "integer" else None)
                elif f.kind == "boolean":
                    el = ui.checkbox(label)
                elif f.kind == "longtext":
                    el = ui.textarea(label).props("autogrow")
                elif f.kind == "strings":
                    el = ui.textarea(label + " (one per line)").props("autogrow")
                elif f.kind == "images":
                    form_values[f.name], attached[f.name] = split_images(form_values[f.name])
                    el = ui.textarea(label + " (links, one per line; or add image files below)").props("autogrow")
                elif f.kind == "json":
                    el = ui.textarea(label + " (JSON)").props("autogrow spellcheck=false").classes("font-mono")
                else:
                    el = ui.input(label)
                el.bind_value(form_values, f.name).classes("w-full").props(f"dense outlined data-testid=field-{f.name}")
                if f.description:
                    el.tooltip(f.description)
                if f.kind == "images":
                    image_uploader(f.name)
        raw["input"] = json_text({**example_input(spec), **first_example(spec)})

    def image_uploader(name: str) -> None:
        """Image files for an images field: each becomes a data: URL in the call (what the
        adapters send as OpenAI image_url parts, Anthropic base64 blocks, Gemini inline_data),
        shown as a thumbnail with a remove button; a non-image or too big a file is refused."""
        with ui.row().classes("w-full items-start gap-2 no-wrap"):
            upload = ui.upload(multiple=True, auto_upload=True, max_file_size=MAX_IMAGE_BYTES,
                               label=f"Image files (up to {MAX_IMAGE_BYTES // 1_000_000} MB each)") \
                .props(f'accept="{IMAGE_ACCEPT}" flat bordered hide-upload-btn data-testid=upload-{name}') \
                .classes("w-64")
            thumbs = ui.row().classes("gap-2 items-start").props(f"data-testid=images-{name}")
        problem = ui.label().classes("text-negative text-sm").props(f"data-testid=image-problem-{name}")

        def draw() -> None:
            thumbs.clear()
            with thumbs:
                for i, url in enumerate(attached[name]):
                    with ui.card().tight().classes("relative").props(f"flat bordered data-testid=image-{name}-{i}"):
                        ui.image(url).classes("w-16 h-16").props("fit=contain no-spinner no-transition")
                        ui.button(icon="close", on_click=lambda i=i: remove(i)) \
                            .props(f"round dense unelevated size=xs color=grey-8 data-testid=remove-image-{name}-{i}") \
                            .classes("absolute top-0 right-0").tooltip("Remove this image")

        def remove(i: int) -> None:
            url = attached[name].pop(i)
            for label in [k for k, v in file_labels.items() if v == url and url not in attached[name]]:
                del file_labels[label]
            draw()

        async def uploaded(e) -> None:
            try:
                data = await e.file.read()
                url = image_data_url(e.file.name, data)
            except UserError as err:
                problem.text = str(err)
                ui.notify(str(err), type="negative", position="bottom")
            else:
                file_labels[f"file {next(files_added)}: {e.file.name} ({data_size(len(data))})"] = url
                attached[name].append(url)
                problem.text = ""
                draw()
            upload.reset()

        def rejected(e) -> None:
            entries = e.args if isinstance(e.args, list) else []
            problem.text = " ".join(image_refusal(str(r.get("name")), int(r.get("size") or 0), str(r.get("why")))
                                    for r in entries if isinstance(r, dict))
            if problem.text:
                ui.notify(problem.text, type="negative", position="bottom")

        upload.on_upload(uploaded)
        upload.on("rejected", rejected, js_handler="(entries) => emit(entries.map("
                  "r => ({name: r.file.name, size: r.file.size, why: r.failedPropValidation})))")
        redraw_images[name] = draw
        draw()

    def example_input(spec: ModelSpec) -> dict:
        names = {f.name for f in fields}
        if "prompt" in names:
            return {"prompt": ""}
        if "text" in names:
            return {"text": ""} | ({"targetLanguage": "fr"} if "targetLanguage" in names else {})
        if "input" in names:
            return {"input": ""}
        return {}

    def switched(e) -> None:
        """The two tabs show one input: what was typed in one is in the other when it opens
        (it was left behind, and the open tab decided, unseen, what a Run sent)."""
        name = getattr(e.value, "_props", {}).get("name", e.value)
        if name == "Raw JSON":
            try:
                doc = form_input()
            except UserError:
                return  # a form field of bad JSON: the raw text stays as it was
            raw["input"] = json_text({**_raw_extras(), **files_named(doc, {v: k for k, v in file_labels.items()})})
        else:
            try:
                doc = json.loads(raw["input"] or "{}")
            except json.JSONDecodeError:
                ui.notify("The raw input is not valid JSON, so the form keeps its values.", type="warning")
                return
            if isinstance(doc, dict):
                form_values.update(form_values_of(fields, files_named(doc, file_labels)))
                for name, draw in redraw_images.items():
                    form_values[name], attached[name] = split_images(form_values[name])
                    draw()

    def _raw_extras() -> dict:
        """What the raw JSON holds that the form has no field for (kept when the form is copied in)."""
        try:
            doc = json.loads(raw["input"] or "{}")
        except json.JSONDecodeError:
            return {}
        names = {f.name for f in fields}
        return {k: v for k, v in doc.items() if k not in names} if isinstance(doc, dict) else {}

    in_tabs.on_value_change(switched)

    def current_input(spec: ModelSpec) -> dict:
        tab = in_panels.value
        if getattr(tab, "_props", {}).get("name", tab) == "Raw JSON":
            try:
                doc = json.loads(raw["input"] or "{}")
            except json.JSONDecodeError as e:
                raise UserError(f"The raw input is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}).") from None
            if not isinstance(doc, dict):
                raise UserError("The raw input must be a JSON object.")
            return files_named(doc, file_labels)
        return form_input()

    def files_named(doc: dict, names: dict[str, str]) -> dict:
        """`doc` with the images fields' items renamed by `names` (data: URL → label, or back)."""
        lists = {f.name for f in fields if f.kind == "images"}
        return {k: [names.get(x, x) if isinstance(x, str) else x for x in v]
                if k in lists and isinstance(v, list) else v for k, v in doc.items()}

    def form_input() -> dict:
        """The form's input: an images field's links and uploaded files together, links first."""
        values = dict(form_values)
        for name, files in attached.items():
            links = str(values.get(name) or "").split("\n")
            values[name] = [s.strip() for s in links if s.strip()] + files
        return collect_input(fields, values)

    def set_running(running: bool) -> None:
        run_button.set_enabled(not running and services.can_call(studio))
        cancel_button.set_enabled(running)

    def show_metrics(values: dict[str, str]) -> None:
        metrics_row.clear()
        with metrics_row:
            for k, v in values.items():
                with ui.column().classes("gap-0"):
                    ui.label(k).classes("text-xs opacity-70")
                    ui.label(v).props(f"data-testid=metric-{k.lower()}")

    def show_attempt(a: Attempt) -> None:
        """Streamed text stays in the output box; a finished call's output gets Copy/Download,
        and an object (a sentiment score, extracted fields) is shown as a readable table."""
        structured = a.state == "ok" and a.output is not None and not a.text
        output.text = "" if structured else a.text
        output.set_visibility(not structured)
        result_box.clear()
        if a.state == "ok" and a.output is not None:
            with result_box:
                result_view(a.output if structured else a.text, name=f"{a.model_id.replace('/', '-')}-output",
                            testid="console-result", body=structured)
        error_label.text = a.error
        raw_request.text = json_text(short_images(redact_data(
            a.result.raw_request if a.result and a.result.raw_request else a.request)))
        raw_response.text = json_text(redact_data(a.result.raw_response)) if a.result and a.result.raw_response is not None else ""
        show_metrics(metrics_for(a.result) if a.result else {})
        status.text = {"ok": "done", "running": "running…"}.get(a.state, a.state)

    def history_rows() -> list[dict]:
        rows = []
        for a in reversed(history):
            r = a.result
            rows.append({
                "n": a.number, "time": a.started.strftime("%H:%M:%S"), "model": a.model_id, "state": a.state,
                "latency": f"{r.latency_ms:.0f} ms" if r else "—",
                "tokens": f"{r.usage.input_tokens}/{r.usage.output_tokens}" if r else "—",
                "cost": money(r.cost.usd) if r else "—",
            })
        return rows

    async def start() -> None:
        if state["task"] is not None or state.get("starting"):
            return
        spec = specs.get(state["model"])
        if spec is None:
            ui.notify("Pick a model first.", type="warning")
            return
        state["starting"] = True
        try:  # the model as the registry holds it now: the CLI or another tab may have changed or removed it
            current = await io_bound(studio.models.find, spec.id)
        except Exception as e:  # noqa: BLE001 — its file unreadable now: one sentence
            error_label.text = notify_error(e, position="bottom")
            return
        finally:
            state["starting"] = False
        if current is None:
            error_label.text = notify_error(UserError(
                f"{spec.id} is no longer in the registry (it was removed after this page was opened), so it was not "
                "called; pick another model, or add it again and reload the page."), position="bottom")
            return
        specs[spec.id] = spec = current  # (its endpoint, key or params edited since: the call uses them)
        try:
            doc = current_input(spec)
            params = build_params(param_values, raw["params"])
            doc = expand_shorthand(spec.model_type, doc)
            problem = input_problem(spec.input_schema, doc, spec.model_type)
            if problem:
                raise UserError(problem)
            request = CallRequest(model_id=spec.id, input=doc, params=params, stream=True)
        except Exception as e:  # noqa: BLE001
            # beside the answer too, and the toast at the bottom: at the top it covered the tabs
            error_label.text = notify_error(e, position="bottom")
            return
        attempt = Attempt(len(history) + 1, spec.id, datetime.now(), request=request.to_json_dict())
        history.append(attempt)
        chunks: list[str] = []

        def on_text(delta: str) -> None:
            chunks.append(delta)
            attempt.text = "".join(chunks)
            if state["shown"] is attempt:  # not into another model's panel
                output.text = attempt.text

        output.text = ""
        error_label.text = ""
        state["shown"] = attempt
        show_attempt(attempt)
        set_running(True)
        task = asyncio.create_task(services.call_model(studio, spec, request, on_text=on_text))
        state["task"] = task
        try:
            result = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
            attempt.state = "cancelled"
            attempt.error = "Cancelled; the text above is what arrived before." if state["shown"] is attempt else \
                "Cancelled when another model was picked."
        except Exception as e:  # noqa: BLE001 — one sentence, partial text kept
            attempt.state = "error"
            attempt.error = error_sentence(e)
            partial = getattr(e, "partial_text", None)
            if partial and not attempt.text:
                attempt.text = partial
            if state["shown"] is attempt:
                notify_error(e, position="bottom")  # (at the top it covered the tabs; the sentence is also inline)
        else:
            attempt.state = "ok"
            attempt.result = result
            attempt.output = result.output
            text = result.output.get("text") if isinstance(result.output, dict) else None
            attempt.text = text if isinstance(text, str) else ""
        finally:
            state["task"] = None
            set_running(False)
        if state["shown"] is attempt:  # another model picked meanwhile: its panel stays its own
            show_attempt(attempt)
        history_table.rows = history_rows()
        history_table.update()

    def cancel() -> None:
        task = state["task"]
        if task is not None and not task.done():
            task.cancel()
            status.text = "cancelling…"

    def on_pick(e) -> None:
        """Another model: the last model's answer or error is not this one's. A call still
        streaming is cancelled (its text went on arriving in the new model's panel, as if it
        were the new model's answer); the history keeps it, marked cancelled."""
        state["model"] = e.value
        build_form()
        state["shown"] = None
        cancel()
        output.text, error_label.text, raw_request.text, raw_response.text = "", "", "", ""
        status.text = ""
        output.set_visibility(True)
        result_box.clear()
        show_metrics({})

    picker.on_value_change(on_pick)
    build_form()
    set_running(False)
    if not services.can_call(studio):
        run_button.tooltip(services.NO_HUB)

    def on_key(e) -> None:
        if e.action.keydown and e.key == "Enter" and (e.modifiers.ctrl or e.modifiers.meta):
            ui.timer(0, start, once=True)

    ui.keyboard(on_key=on_key, ignore=[])


def short_images(value: Any) -> Any:
    """A request as the raw tab shows it: an image's base64 (megabytes, unreadable; a data: URL,
    Anthropic's base64 source, Gemini's inline_data) as its start and size. Only the page's
    copy: the call and its record keep the image."""
    if isinstance(value, str):
        if value.startswith("data:") and len(value) > 120:
            return f"{value[:60]}… ({len(value):,} characters)"
        return value
    if isinstance(value, list):
        return [short_images(v) for v in value]
    if isinstance(value, dict):
        typed = any(k in value for k in ("media_type", "mime_type", "mimeType"))
        return {k: (f"{v[:40]}… ({len(v):,} characters)" if typed and k == "data" and isinstance(v, str)
                    and len(v) > 120 else short_images(v)) for k, v in value.items()}
    return value


def first_example(spec: ModelSpec) -> dict:
    """What the form starts with, as the canvas's Run tab does: each property's first schema
    example, else the type's example from the error sentences ({"text": "I loved it"} for a
    classifier), so a first Run answers instead of refusing an empty form. A chat prompt is
    left for the person to write."""
    props = (spec.input_schema or {}).get("properties") or {}
    doc = {} if spec.model_type in CHAT_TYPES else dict(canonical_example(spec.model_type))
    doc = {k: v for k, v in doc.items() if k in props}  # only what this schema takes
    for name, prop in props.items():
        examples = prop.get("examples") if isinstance(prop, dict) else None
        if isinstance(examples, list) and examples:
            doc[name] = examples[0]
    return doc
