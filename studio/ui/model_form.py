"""Register / edit / clone a model: a form in a dialog, JSON Schema editors checked as you type.

The pure half (`spec_to_form`, `form_to_spec`, `schema_problem`) is separate from the widgets
so it is tested without a page. Prices are typed per million tokens, stored per token.
"""

from __future__ import annotations

import json
import math
from typing import Any, Awaitable, Callable, get_args

import jsonschema
from nicegui import ui
from pydantic import ValidationError
from pydantic.alias_generators import to_snake

from studio import jsonread
from studio.errors import ChangedElsewhere, UserError
from studio.registry.files import ANY_VERSION
from studio.spec.calls import CANONICAL_SCHEMAS
from studio.spec.migrations import describe_validation_error
from studio.spec.model import KNOWN_CAPABILITIES, Api, ModelSpec, ModelType, Prices, Provider, SecurityPolicy
from studio.ui.threads import io_bound
from studio.ui.widgets import notify_error, transient_dialog

PROVIDERS = list(get_args(Provider))
APIS = list(get_args(Api))
MODEL_TYPES = list(get_args(ModelType))
POLICIES = list(get_args(SecurityPolicy))
MTOK = 1_000_000


def schema_problem(text: str) -> str | None:
    """None when `text` is a JSON object that is a valid JSON Schema, else one sentence."""
    if not text.strip():
        return "Enter a JSON Schema, e.g. {\"type\": \"object\"}."
    try:
        doc = jsonread.loads(text, "it")
    except UserError as e:
        return str(e)[:1].upper() + str(e)[1:]
    if not isinstance(doc, dict):
        return "A JSON Schema here must be an object, e.g. {\"type\": \"object\"}."
    validator = jsonschema.validators.validator_for(doc, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(doc)
    except jsonschema.SchemaError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        return f"Not a valid JSON Schema at {where}: {e.message}."
    return None


def json_object_problem(text: str) -> str | None:
    if not text.strip():
        return None
    try:
        doc = jsonread.loads(text, "it")
    except UserError as e:
        return str(e)[:1].upper() + str(e)[1:]
    return None if isinstance(doc, dict) else "This must be a JSON object, e.g. {\"temperature\": 0}."


def _shown(v: float | None) -> str:
    """A stored number as the text of its field: 2 rather than 2.0, never rounded to a few digits."""
    return "" if v is None else str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _per_mtok(v: float | None) -> str:
    return _shown(None if v is None else round(v * MTOK, 6))


def spec_to_form(spec: ModelSpec | None) -> dict[str, Any]:
    """Form values for a spec (or a blank LLM entry)."""
    if spec is None:
        inp, out = CANONICAL_SCHEMAS["llm"]
        return {
            "id": "", "name": "", "description": "", "provider": "openai", "api": "openai-chat",
            "endpoint": "", "model": "", "model_type": "llm", "capabilities": ["chat"], "tags": "",
            "owner": "", "key_ref": "", "price_in": "", "price_out": "", "price_cached": "", "price_cache_write": "",
            "price_call": "", "latency_ms": None, "context_window": None, "security_policy": "public",
            "default_params": "{}", "input_schema": json.dumps(inp, indent=2),
            "output_schema": json.dumps(out, indent=2),
        }
    p = spec.prices
    return {
        "id": spec.id, "name": spec.name, "description": spec.description, "provider": spec.provider,
        "api": spec.api, "endpoint": spec.endpoint or "", "model": spec.model or "",
        "model_type": spec.model_type, "capabilities": list(spec.capabilities), "tags": ", ".join(spec.tags),
        "owner": spec.owner, "key_ref": spec.key_ref or "",
        "price_in": _per_mtok(p.input_per_token), "price_out": _per_mtok(p.output_per_token),
        "price_cached": _per_mtok(p.cached_input_per_token),
        "price_cache_write": _per_mtok(p.cache_write_input_per_token), "price_call": _shown(p.per_call),
        "latency_ms": spec.latency_ms, "context_window": spec.context_window,
        "security_policy": spec.security_policy,
        "default_params": json.dumps(spec.default_params, indent=2),
        "input_schema": json.dumps(spec.input_schema, indent=2),
        "output_schema": json.dumps(spec.output_schema, indent=2),
    }


def _num(v: Any) -> float | None:
    if isinstance(v, str):
        v = v.strip()
    return None if v in (None, "") else float(v)


def _price_entry(field: str, v: Any) -> float | None:
    """A typed price in the spec's unit (per token, or per call); ValueError when not a number."""
    n = _num(v)
    if n is not None and math.isnan(n):
        raise ValueError(v)
    return None if n is None else n if field == "price_call" else n / MTOK


def price_problem(field: str, v: Any) -> str | None:
    """None when the typed price would save, else the sentence the spec (or the reading) gives."""
    try:
        price = _price_entry(field, v)
    except ValueError:
        return f"{str(v).strip()[:40]!r} is not a number; type a price in USD such as 0.15, or leave it empty."
    try:
        Prices.model_validate({_SPEC_PRICES[field]: price})
    except ValidationError as e:
        sentence = e.errors()[0]["msg"].removeprefix("Value error, ").rstrip(".") + "."
        return sentence[0].upper() + sentence[1:]
    return None


def _int(v: Any) -> int | float | None:
    """A whole number as an int; any other number as it is, for the model's check to name (the
    fields no longer clamp or round what was typed: -3 became 0, 1000.5 became 1000, silently)."""
    if v in (None, ""):
        return None
    return int(v) if float(v).is_integer() else float(v)


def form_to_spec(values: dict[str, Any], base: ModelSpec | None = None) -> ModelSpec:
    """A validated ModelSpec from form values; UserError naming the first fault otherwise.
    Fields the form does not show (http, faults, rateLimit) are kept from `base` (an edit's saved
    model or a clone's source); `created` too, unless the id changed (a clone is new)."""
    for field in ("input_schema", "output_schema"):
        problem = schema_problem(values.get(field) or "")
        if problem:
            raise UserError(f"{field.replace('_', ' ').capitalize()}: {problem}")
    problem = json_object_problem(values.get("default_params") or "")
    if problem:
        raise UserError(f"Default params: {problem}")
    for field in _SPEC_PRICES:
        problem = price_problem(field, values.get(field))
        if problem:
            raise UserError(problem)
    doc = _spec_doc(values, base)
    try:
        return ModelSpec.model_validate(doc)
    except ValidationError as e:
        raise UserError(f"The model is not valid: {describe_validation_error(e)}.") from None


def _spec_doc_validate(values: dict[str, Any], base: ModelSpec | None) -> ModelSpec:
    return ModelSpec.model_validate(_spec_doc(values, base))


def _spec_doc(values: dict[str, Any], base: ModelSpec | None) -> dict[str, Any]:
    """The document a ModelSpec is validated from (JSON fields already checked)."""
    doc: dict[str, Any] = base.model_dump() if base else {}
    for drop in ("updated",) if base and base.id == (values.get("id") or "").strip() else ("updated", "created"):
        doc.pop(drop, None)
    doc.update(
        id=(values.get("id") or "").strip(),
        name=(values.get("name") or "").strip(),
        description=values.get("description") or "",
        provider=values.get("provider"),
        api=values.get("api"),
        endpoint=(values.get("endpoint") or "").strip() or None,
        model=(values.get("model") or "").strip() or None,
        model_type=values.get("model_type"),
        capabilities=[c.strip() for c in values.get("capabilities") or [] if c and c.strip()],
        tags=[t.strip() for t in (values.get("tags") or "").split(",") if t.strip()],
        owner=values.get("owner") or "",
        key_ref=(values.get("key_ref") or "").strip() or None,
        prices={spec_field: _price_entry(field, values.get(field)) for field, spec_field in _SPEC_PRICES.items()},
        latency_ms=_int(values.get("latency_ms")),
        context_window=_int(values.get("context_window")),
        security_policy=values.get("security_policy"),
        default_params=json.loads(values.get("default_params") or "{}"),
        input_schema=json.loads(values["input_schema"]),
        output_schema=json.loads(values["output_schema"]),
    )
    return doc


_PRICE_FIELDS = {"input_per_token": "price_in", "output_per_token": "price_out",
                 "cached_input_per_token": "price_cached", "cache_write_input_per_token": "price_cache_write",
                 "per_call": "price_call"}
_SPEC_PRICES = {form: spec for spec, form in _PRICE_FIELDS.items()}


_RULE_FIELDS = (("endpoint", "endpoint"), ("model name", "model"), ("key", "key_ref"))


def _field_of(loc: tuple) -> str:
    """The form field a pydantic error location points at ('' when it is about the whole model)."""
    if not loc:
        return ""
    head = to_snake(str(loc[0]))
    if head == "prices" and len(loc) > 1:
        return _PRICE_FIELDS.get(to_snake(str(loc[1])), "price_in")
    return head


def form_problems(values: dict[str, Any], base: ModelSpec | None = None) -> dict[str, str]:
    """Every fault at once, keyed by form field ('' for faults of the whole model), each one
    sentence; empty when the form would save. Lets the form mark all fields in one go."""
    problems: dict[str, str] = {}
    if not (values.get("id") or "").strip():
        problems["id"] = "An id is required, e.g. openai/gpt-4o-mini."
    if not (values.get("name") or "").strip():
        problems["name"] = "A name is required."
    for field in ("input_schema", "output_schema"):
        problem = schema_problem(values.get(field) or "")
        if problem:
            problems[field] = problem
    problem = json_object_problem(values.get("default_params") or "")
    if problem:
        problems["default_params"] = problem
    for field in _SPEC_PRICES:
        problem = price_problem(field, values.get(field))
        if problem:
            problems[field] = problem
    # the other fields are checked too while a JSON field is broken (each problem at once, not one
    # Save after another): the broken ones stand in as an empty object
    broken = problems.keys() & _JSON_FIELDS.keys()
    checked = {**values, **{f: _JSON_FIELDS[f] for f in broken}, **{f: "" for f in problems.keys() & _SPEC_PRICES.keys()}}
    for err in _validation_errors(checked, base):
        sentence = err["msg"].removeprefix("Value error, ").rstrip(".") + "."
        field = _field_of(tuple(err["loc"]))
        if not field:  # whole-model rules that are really about one field
            field = next((f for word, f in _RULE_FIELDS if word in sentence), "")
        if field in problems and field in ("id", "name") or (broken and field in ("", *broken)):
            continue
        problems.setdefault(field, sentence[0].upper() + sentence[1:])
    return problems


# what a broken JSON field stands in as while the rest of the form is checked
_JSON_FIELDS = {"input_schema": '{"type": "object"}', "output_schema": '{"type": "object"}', "default_params": "{}"}


def _validation_errors(values: dict[str, Any], base: ModelSpec | None) -> list[dict]:
    try:
        _spec_doc_validate(values, base)
    except ValidationError as e:
        return e.errors()
    return []


def open_model_form(studio, *, spec: ModelSpec | None = None, mode: str = "new",
                    on_saved: Callable[[ModelSpec], Awaitable[None] | None] | None = None) -> ui.dialog:
    """mode: 'new' (blank or from `spec` as a template), 'edit' or 'clone'. An edit starts from
    the saved file as it is now, and saves only over that version (or, when asked, over what
    was written elsewhere since, which is then kept as a backup)."""
    version = ANY_VERSION
    if mode == "edit" and spec is not None:
        version = studio.models.version(spec.id)  # first: a write in between then asks, never is lost
        spec = studio.models.find(spec.id) or spec
    over_theirs = {"asked": False}
    values = spec_to_form(spec)
    if mode == "clone" and spec is not None:
        values["id"] = f"{spec.id}-copy"
        values["name"] = f"{spec.name} (copy)"
    title = {"new": "Register a model", "edit": f"Edit {spec.id if spec else ''}", "clone": "Clone a model"}[mode]

    widgets: dict[str, Any] = {}  # form field → its widget, so save() can mark problems on it

    with transient_dialog().props("persistent") as dialog, ui.card().classes("w-[56rem] max-w-full") as card:
        with ui.row().classes("w-full items-center"):
            ui.label(title).classes("text-h6")
            ui.space()
            ui.button(icon="close", on_click=dialog.close).props('flat round aria-label="Close"')
        with ui.scroll_area().classes("w-full h-[60vh]"):
            with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1 pr-4"):
                ui.input("Id", placeholder="provider/model-name",
                         validation=lambda v: None if v.strip() else "An id is required, e.g. openai/gpt-4o-mini.") \
                    .bind_value(values, "id") \
                    .mark("field-id").props("data-testid=form-id" + (" readonly" if mode == "edit" else ""))
                ui.input("Name", validation=lambda v: None if v.strip() else "A name is required.") \
                    .bind_value(values, "name").mark("field-name").props("data-testid=form-name")
                ui.select(PROVIDERS, label="Provider").bind_value(values, "provider") \
                    .mark("field-provider").props("data-testid=form-provider")
                ui.select(APIS, label="API (wire format)").bind_value(values, "api") \
                    .mark("field-api").props("data-testid=form-api")
                ui.input("Endpoint URL", placeholder="https://… (not needed for local models)") \
                    .bind_value(values, "endpoint").mark("field-endpoint").props("data-testid=form-endpoint")
                ui.input("Provider's model name", placeholder="e.g. gpt-4o-mini") \
                    .bind_value(values, "model").mark("field-model").props("data-testid=form-model")
                ui.select(MODEL_TYPES, label="Type").bind_value(values, "model_type").mark("field-model_type")
                ui.select(sorted(set(KNOWN_CAPABILITIES) | set(values["capabilities"])), label="Capabilities",
                          multiple=True, new_value_mode="add-unique").bind_value(values, "capabilities").props("use-chips")
                ui.input("Tags (comma separated)").bind_value(values, "tags")
                ui.input("Owner").bind_value(values, "owner")
                ui.input("Key name", placeholder="e.g. OPENAI_API_KEY (the name, never the key)") \
                    .bind_value(values, "key_ref").mark("field-key_ref").props("data-testid=form-keyref")
                ui.select(POLICIES, label="Security policy").bind_value(values, "security_policy") \
                    .mark("field-security_policy")
                # text fields: a number field hands an unreadable or infinite entry (1e400) on as
                # empty, so the typo vanished instead of being named
                for field, label in (("price_in", "Input $ per Mtok"), ("price_out", "Output $ per Mtok"),
                                     ("price_cached", "Cached input $ per Mtok"),
                                     ("price_cache_write", "Cache write $ per Mtok"), ("price_call", "$ per call")):
                    ui.input(label, validation=lambda v, field=field: price_problem(field, v)) \
                        .bind_value(values, field).mark(f"field-{field}") \
                        .props(f"inputmode=decimal data-testid=form-{field.replace('_', '-')}")
                ui.number("Typical latency (ms)").bind_value(values, "latency_ms") \
                    .mark("field-latency_ms")
                ui.number("Context window (tokens)").bind_value(values, "context_window") \
                    .mark("field-context_window")
            ui.input("Description").bind_value(values, "description").mark("field-description").classes("w-full pr-4")
            editor = "w-full pr-4 font-mono"
            ui.textarea("Input schema (JSON Schema)", validation=schema_problem).bind_value(values, "input_schema") \
                .mark("field-input_schema") \
                .classes(editor).props("outlined autogrow spellcheck=false data-testid=form-input-schema")
            ui.textarea("Output schema (JSON Schema)", validation=schema_problem).bind_value(values, "output_schema") \
                .mark("field-output_schema") \
                .classes(editor).props("outlined autogrow spellcheck=false data-testid=form-output-schema")
            ui.textarea("Default params (JSON)", validation=json_object_problem).bind_value(values, "default_params") \
                .mark("field-default_params") \
                .classes(editor).props("outlined autogrow spellcheck=false")

        for element in card.descendants():
            for marker in element._markers:
                if marker.startswith("field-"):
                    widgets[marker.removeprefix("field-")] = element
                    if not element.validation:  # those re-check themselves; others drop the mark once edited
                        element.on_value_change(lambda _, element=element: setattr(element, "error", None))

        def mark(problems: dict[str, str]) -> None:
            for name, element in widgets.items():
                element.error = problems.get(name)
            general.text = " ".join(p for f, p in problems.items() if f not in widgets)

        # a clone keeps what the form does not show (an HTTP mapping, rateLimit, faults): it was
        # dropped, and the copy called the API without its mapping or key header
        base = spec if mode in ("edit", "clone") else None

        async def save() -> None:
            problems = form_problems(values, base=base)
            mark(problems)
            if problems:
                count = len(problems)
                ui.notify(f"{count} field{'s' if count > 1 else ''} need{'' if count > 1 else 's'} attention; "
                          "each problem is written under its field.", type="negative", position="top")
                return
            try:
                saved = form_to_spec(values, base=base)
                saved = await io_bound(studio.models.save, saved, create=(mode != "edit"),
                                       expected=ANY_VERSION if over_theirs["asked"] else version,
                                       keep_replaced=over_theirs["asked"])
            except ChangedElsewhere as e:  # the CLI or another tab saved it since: ask before overwriting
                general.text = str(e)
                over_theirs["asked"] = True
                save_button.text = "Save mine over it"
                return
            except Exception as e:  # noqa: BLE001 — one sentence, form stays open
                notify_error(e)
                return
            one_sided = saved.prices.one_sided(saved.model_type)  # saved, but its calls will say "unpriced"
            ui.notify(f"Saved {saved.id}; {one_sided}" if one_sided else f"Saved {saved.id}.",
                      type="warning" if one_sided else "positive")
            if on_saved:
                result = on_saved(saved)
                if hasattr(result, "__await__"):
                    await result
            dialog.close()  # last: closing deletes the dialog, and with it this handler's context

        with ui.row().classes("w-full justify-end items-center"):
            general = ui.label().classes("text-negative text-sm mr-auto").props("data-testid=form-problem")
            ui.button("Cancel", on_click=dialog.close).props("flat")
            save_button = ui.button("Save", icon="save", on_click=save).props("data-testid=form-save")
    dialog.open()
    return dialog
