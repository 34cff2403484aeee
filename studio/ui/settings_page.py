"""Settings (`/settings`): API keys by name (set, test, delete — values never shown), the
keyring backend in use, the data dir, the cached node outputs (and clearing them), reset
to samples.

Keyring calls go through D-Bus and may block, so they run in a worker thread."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from studio.formats import data_size
from studio.secrets import NO_BACKEND_HELP, KeyStatus
from studio.ui import services
from studio.ui.app import get_studio
from studio.ui.shell import frame
from studio.ui.threads import io_bound
from studio.ui.widgets import confirm, notify_error, notify_samples_written


def key_names(studio) -> list[str]:
    """Every key name the studio knows: referenced by a model, or stored through the studio."""
    refs = {s.key_ref for s in studio.models.all() if s.key_ref}
    return sorted(refs | set(studio.keys.names()))


def key_rows(studio) -> list[tuple[KeyStatus, list[str]]]:
    """(status, ids of models using the key) per key name. Blocking: call in a thread."""
    specs = studio.models.all()
    return [(studio.keys.status(name), [s.id for s in specs if s.key_ref == name]) for name in key_names(studio)]


async def test_key(studio, name: str) -> str:
    """A cheap authenticated call: the health probe of the first model that uses this key."""
    specs = await io_bound(studio.models.all)
    spec = next((s for s in specs if s.key_ref == name and not s.incomplete), None)
    if spec is None:
        return f"No callable model uses {name}; register one to test this key."
    status = await services.check_health(studio, spec)
    verdict = {"ok": "works", "auth_failed": "was refused by the provider", "key_missing": "is not set",
               "rate_limited": "works, but the provider is rate-limiting it for now"}
    return f"{name} {verdict.get(status.state, 'could not be checked (' + status.state + ')')} — probed {spec.id}."


async def settings_page(request: Request) -> None:
    studio = get_studio()
    with frame("Settings") as page_root:
        ui.label("API keys").classes("text-h6")
        available = await io_bound(studio.keys.available)
        backend = studio.keys.backend_name()
        with ui.row().classes("items-center gap-2"):
            ui.icon("key" if available else "key_off").classes("text-positive" if available else "text-negative")
            ui.label(f"Keyring backend: {backend}").props("data-testid=backend")
        if not available:
            ui.label(NO_BACKEND_HELP).classes("text-negative").props("data-testid=no-backend")
        ui.label("Keys live in the OS keyring (or an environment variable); the studio never shows or "
                 "writes their values.").classes("text-sm opacity-70")
        keys_box = ui.column().classes("w-full gap-2").props("data-testid=keys")

        async def refresh_keys() -> None:
            try:
                rows = await io_bound(key_rows, studio)
            except Exception as e:  # noqa: BLE001
                notify_error(e)
                return
            keys_box.clear()
            with keys_box:
                if not rows:
                    ui.label("No model refers to a key yet.").classes("opacity-70")
                for status, users in rows:
                    key_row(status, users)

        def key_row(status: KeyStatus, users: list[str]) -> None:
            name = status.name
            with ui.card().classes("w-full").props(f"flat bordered data-testid=key-{name}"):
                with ui.row().classes("w-full items-center gap-3 no-wrap"):
                    with ui.column().classes("gap-0 w-64"):
                        ui.label(name).classes("font-mono font-medium")
                        ui.label(", ".join(users) or "no model uses it").classes("text-xs opacity-70 break-all")
                    source = "set in the keyring" if status.source == "keyring" else (
                        f"from ${status.source[4:]}" if status.source.startswith("env:") else "missing")
                    ui.badge(source, color="positive" if status.is_set else "warning") \
                        .props(f"outline data-testid=status-{name}").classes("whitespace-nowrap")
                    ui.space()
                    value = ui.input("New value", password=True).props(
                        f"dense outlined autocomplete=off data-testid=value-{name}").classes("w-64")

                    async def save(value=value, name=name) -> None:
                        try:
                            await io_bound(studio.set_key, name, value.value or "")
                        except Exception as e:  # noqa: BLE001
                            notify_error(e)
                            return
                        value.value = ""
                        ui.notify(f"{name} stored in the keyring.", type="positive")
                        await refresh_keys()

                    value.on("keydown.enter", save)
                    ui.button("Set", on_click=save).props(f"dense data-testid=set-{name}").set_enabled(available)

                    async def test(name=name) -> None:
                        try:
                            message = await test_key(studio, name)
                        except Exception as e:  # noqa: BLE001
                            notify_error(e)
                            return
                        ui.notify(message, multi_line=True)

                    test_button = ui.button("Test", on_click=test).props(f"dense outline data-testid=test-{name}")
                    if services.health_probe(studio) is None:
                        test_button.disable()
                        test_button.tooltip(services.NO_PROBE)

                    async def delete(name=name) -> None:
                        await io_bound(studio.delete_key, name)
                        ui.notify(f"{name} deleted from the keyring.")
                        await refresh_keys()

                    def ask_delete(name=name) -> None:
                        with page_root:  # not in this row: the row is rebuilt after the delete
                            confirm(f"Delete {name} from the keyring?", lambda: delete(name))

                    ui.button(icon="delete", on_click=ask_delete) \
                        .props(f'dense flat color=negative aria-label="Delete {name}" data-testid=delete-{name}') \
                        .set_enabled(available and status.source == "keyring")

        with ui.row().classes("items-center gap-2"):
            new_name = ui.input("Add a key name", placeholder="e.g. MISTRAL_API_KEY").props(
                "dense outlined data-testid=new-key-name").classes("w-64")

            async def add_name() -> None:
                name = (new_name.value or "").strip()
                if not name:
                    return
                new_name.value = ""
                with keys_box:
                    key_row(KeyStatus(name, "missing"), [])

            ui.button("Add", on_click=add_name).props("dense outline")

        ui.separator()
        await gateway_card(studio, f"{request.url.scheme}://{request.headers.get('host', '127.0.0.1')}/v1")

        ui.separator()
        await health_card(studio)

        ui.separator()
        ui.label("Data").classes("text-h6")
        with ui.row().classes("items-center gap-2"):
            ui.label("Data dir:")
            ui.label(str(studio.home)).classes("font-mono").props("data-testid=data-dir")
        ui.label("Models, pipelines, health and analytics are kept there; set IOM_HOME to use another folder.") \
            .classes("text-sm opacity-70")
        await cache_row(studio)

        async def reset(purge: bool) -> None:
            report = await io_bound(studio.reset_to_samples, purge=purge)
            notify_samples_written(report)
            await refresh_keys()

        with ui.row().classes("gap-2"):
            ui.button("Reset to samples", icon="restart_alt", on_click=lambda: confirm(
                "Write the sample models and pipelines again? A sample you changed is overwritten (its changed "
                "version is kept as a backup); your other entries stay.",
                lambda: reset(False), ok_label="Reset")).props("outline data-testid=reset")
            ui.button("Reset and remove everything else", icon="delete_sweep", color="negative", on_click=lambda: confirm(
                "Remove every model and pipeline, then write the samples? Each one removed or overwritten is kept "
                "as a backup ('iom models restore ID', or pipelines, brings it back).",
                lambda: reset(True), ok_label="Remove and reset")).props("flat")
    await refresh_keys()


def _cache(home):
    """The output cache file, opened for one question and closed after (the engine's own
    connection, if a run made one, is not this page's)."""
    from studio.engine.output_cache import OutputCache, cache_path

    return OutputCache(cache_path(home))


def _cache_summary(home) -> dict:
    from studio.engine.output_cache import set_aside_files

    with _cache(home) as cache:
        summary = cache.summary()  # (sets a damaged file aside, so it is among those looked for next)
        return {**summary, "setAsideFiles": [str(p) for p in set_aside_files(cache.path)]}


def set_aside_sentence(files: list[str]) -> str:
    """What a damaged cache file set aside means, for a person who never reads the log."""
    if not files:
        return ""
    more = f" (and {len(files) - 1} older one{'s' if len(files) > 2 else ''} beside it)" if len(files) > 1 else ""
    return (f"The cached-outputs file was damaged, so it was set aside as {files[-1]}{more} and an empty one took "
            "its place: runs call the models again for the answers it held, and you may delete the set-aside file.")


def _clear_cache(home) -> int:
    with _cache(home) as cache:
        return cache.clear()


async def cache_row(studio) -> None:
    """The cached node outputs (deterministic calls reused instead of called again): how many,
    how big, and clearing them, e.g. after a provider changed what stands behind a model id."""
    with ui.row().classes("items-center gap-2"):
        ui.label("Cached outputs:")
        shown = ui.label().props("data-testid=cache-summary")
    aside = ui.label().classes("text-sm text-warning").props("data-testid=cache-set-aside")
    aside.set_visibility(False)
    blocked = ui.label().classes("text-sm text-warning").props("data-testid=cache-not-a-folder")
    blocked.set_visibility(False)

    async def refresh() -> None:
        try:
            summary = await io_bound(_cache_summary, studio.home)
        except Exception as e:  # noqa: BLE001 - one sentence, the page stays
            shown.set_text("could not be read")
            notify_error(e)
            return
        aside.set_text(set_aside_sentence(summary["setAsideFiles"]))
        aside.set_visibility(bool(summary["setAsideFiles"]))
        blocked.set_text(summary["notAFolder"] or "")
        blocked.set_visibility(bool(summary["notAFolder"]))
        models = len(summary["models"])
        shown.set_text(f"{summary['entries']:,} from {models} model{'s' if models != 1 else ''}, "
                       f"{data_size(summary['fileBytes'])} on disk")

    async def clear() -> None:
        removed = await io_bound(_clear_cache, studio.home)
        ui.notify(f"Removed {removed:,} cached output{'s' if removed != 1 else ''}; the next runs call the models again.",
                  type="positive")
        await refresh()

    ui.label("A call that gives the same answer every time (temperature 0, a seed, a built-in model) is answered "
             "from here when it comes again; 'iom cache' shows and clears them by model or age.") \
        .classes("text-sm opacity-70")
    ui.button("Clear cached outputs", icon="layers_clear", on_click=lambda: confirm(
        "Remove every cached output? Runs will call the models again (and pay for it).", clear,
        ok_label="Clear")).props("outline data-testid=cache-clear")
    await max_age_row(studio)
    await refresh()


async def max_age_row(studio) -> None:
    """For how long a remote model's cached output is reused (its provider may serve something
    else under the id later); empty: until cleared. Built-in models' entries are not aged."""
    from studio.engine.cache_settings import (DEFAULT_REMOTE_MAX_AGE_DAYS, CacheSettings, load_cache_settings,
                                              save_cache_settings)

    try:
        days = (await io_bound(load_cache_settings, studio.home)).remote_max_age_days
    except Exception as e:  # noqa: BLE001 - a hand-edited file: one sentence, the default shown
        notify_error(e)
        days = DEFAULT_REMOTE_MAX_AGE_DAYS

    async def save() -> None:
        value = age.value
        try:
            settings = CacheSettings(remote_max_age_days=float(value) if value not in (None, "") else None)
        except ValueError:
            ui.notify("Give a number of days above 0, or leave it empty to reuse until cleared.", type="negative")
            return
        await io_bound(save_cache_settings, studio.home, settings)
        ui.notify("Remote models' cached outputs are reused " + (
            f"for {settings.remote_max_age_days:g} day(s)." if settings.remote_max_age_days else "until cleared."),
            type="positive")

    with ui.row().classes("items-center gap-2"):
        # no min: NiceGUI clamps a number field to it when the field is left, so 0 was saved as 0.01 days
        age = ui.number("Reuse a remote model's output for (days)", value=days, format="%g").classes(
            "w-72").props("clearable data-testid=cache-max-age")
        ui.button("Save", on_click=save).props("flat data-testid=cache-max-age-save")


async def health_card(studio) -> None:
    """The background health refresh: on or off, and how often (saved under IOM_HOME)."""
    from studio.registry.health_schedule import HealthSchedule, load_schedule, save_schedule

    schedule = await io_bound(load_schedule, studio.home)
    ui.label("Model health").classes("text-h6")
    ui.label("Built-in models are checked at every start. The studio also refreshes every model's health "
             "on a schedule (keyed models only when their key is set).").classes("text-sm opacity-70")

    async def save() -> None:
        try:
            minutes = int(every.value or 0)
            await io_bound(save_schedule, studio.home, HealthSchedule(bool(enabled.value), minutes))
        except Exception as e:  # noqa: BLE001 — one sentence, never a traceback
            notify_error(e)
            return
        ui.notify("Health schedule saved.", type="positive")

    with ui.row().classes("items-center gap-4"):
        enabled = ui.switch("Refresh health on a schedule", value=schedule.enabled) \
            .props("data-testid=health-schedule-on")
        # no min or max: left, the field was clamped (0 saved as every minute); save() says what fits
        every = ui.number("Every", value=schedule.every_minutes, step=1, precision=0) \
            .props("dense outlined suffix=min data-testid=health-schedule-minutes").classes("w-32")
        ui.button("Save", on_click=save).props("outline dense data-testid=health-schedule-save")


async def gateway_card(studio, base_url: str) -> None:
    """The gateway token (what SDKs send as api_key): shown on request, copied, renewed. The page
    is built without it: it reaches the browser only when the user presses Show or Copy (a page
    saved, or read by an extension, does not carry it)."""
    from studio.security.token import gateway_token, new_gateway_token, where_kept

    ui.label("Gateway").classes("text-h6")
    ui.label("OpenAI- and Anthropic-compatible clients reach the studio at this address with this token as "
             "their api_key; other web pages cannot use it.").classes("text-sm opacity-70")
    ui.label(base_url).classes("font-mono").props("data-testid=gateway-url")
    with ui.row().classes("items-center gap-2 no-wrap"):
        shown = ui.input("Token", value="", placeholder="hidden: Show or Copy").props(
            "dense outlined readonly data-testid=gateway-token").classes("w-96 font-mono")

        async def current() -> str | None:
            try:
                return await io_bound(gateway_token, studio.home, studio.keys)
            except Exception as e:  # noqa: BLE001
                notify_error(e)
                return None

        async def show() -> None:
            if shown.value:
                shown.value = ""
                reveal.text, reveal.icon = "Show", "visibility"
            elif (value := await current()) is not None:
                shown.value = value
                reveal.text, reveal.icon = "Hide", "visibility_off"

        async def copy() -> None:
            if (value := await current()) is not None:
                ui.clipboard.write(value)
                ui.notify("Gateway token copied.", type="positive")

        async def renew() -> None:
            try:
                value = await io_bound(new_gateway_token, studio.home, studio.keys)
            except Exception as e:  # noqa: BLE001
                notify_error(e)
                return
            shown.value = value  # asked for: the user will paste it into their clients
            reveal.text, reveal.icon = "Hide", "visibility_off"
            ui.notify("New gateway token made; the old one no longer works.", type="positive")

        reveal = ui.button("Show", icon="visibility", on_click=show).props("dense flat data-testid=gateway-show")
        ui.button("Copy", icon="content_copy", on_click=copy).props("dense outline data-testid=gateway-copy")
        ui.button("New token", icon="autorenew", on_click=lambda: confirm(
            "Make a new gateway token? Clients using the old one are refused from now on.", renew,
            ok_label="New token")).props("dense flat data-testid=gateway-new")
    kept = await io_bound(where_kept, studio.home, studio.keys)
    ui.label(f"Kept in {kept}; 'iom gateway token' prints it.").classes("text-xs opacity-70")
