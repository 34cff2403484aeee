"""Which keys a pipeline's models need, and the badge that says so: shared by the start page
and the pipelines list. Kept apart from pipelines_page so the start page (the first page a
launch serves) does not import the canvas editor."""

from __future__ import annotations

from nicegui import ui

from studio.spec.pipeline import Pipeline


def key_needs(studio, pipelines: list[Pipeline]) -> dict[str, tuple[str, list[str]]]:
    """Pipeline id → ("offline" | "needs-key" | "keys-set" | "missing-model", names) from the
    models it uses: offline when none needs a key. Blocking (keyring): run it in a thread."""
    specs = {s.id: s for s in studio.models.all()}
    known: dict[str, bool] = {}
    out = {}
    for p in pipelines:
        ids = sorted(p.model_ids())
        unknown = [i for i in ids if i not in specs]
        refs = sorted({specs[i].key_ref for i in ids if i in specs and specs[i].key_ref})
        for ref in refs:
            if ref not in known:
                known[ref] = studio.keys.status(ref).is_set
        missing = [r for r in refs if not known[r]]
        if unknown:
            out[p.id] = ("missing-model", unknown)
        elif missing:
            out[p.id] = ("needs-key", missing)
        else:
            out[p.id] = ("keys-set", refs) if refs else ("offline", [])
    return out


def needs_badge(need: tuple[str, list[str]]) -> None:
    kind, names = need
    text, color, tip = {
        "offline": ("offline", "positive", "Every model this pipeline uses runs on this machine; no key needed."),
        "keys-set": ("keys set", "primary", f"Calls online models; their keys are set: {', '.join(names)}."),
        "needs-key": ("needs key" if len(names) == 1 else f"needs {len(names)} keys", "warning",
                      f"Calls models whose keys are not set ({', '.join(names)}); set them in Settings first."),
        "missing-model": ("missing model", "negative", f"Uses models not in the registry: {', '.join(names)}."),
    }[kind]
    ui.badge(text, color=color).props(f"outline data-testid=needs-{kind}").tooltip(tip)
