"""Pipelines: the list (new, open, rename, duplicate, delete, import), the sample gallery,
and the editor page with the canvas. Registered (and imported on first visit) by studio/ui/pages.py."""

from __future__ import annotations

from nicegui import ui

from studio import jsonread
from studio.formats import counted, nodes_and_edges
from studio.errors import NotFound, UserError
from studio.registry.pipelines import export_pipeline
from studio.registry.samples import sample_pipelines
from studio.spec.base import slugify
from studio.spec.migrations import load_pipeline
from studio.spec.pipeline import Node, Pipeline
from studio.ui import services
from studio.ui.app import get_studio
from studio.ui.canvas.editor import PipelineEditor
from studio.ui.key_needs import key_needs, needs_badge
from studio.ui.shell import frame
from studio.ui.threads import io_bound
from studio.ui.widgets import ask_replace, backups_dialog, id_list, notify_error


def unique_id(base: str) -> str:
    studio = get_studio()
    base = slugify(base)
    candidate, i = base, 2
    while studio.pipelines.exists(candidate):
        candidate, i = f"{base}-{i}", i + 1
    return candidate


def blank_pipeline(name: str) -> Pipeline:
    """A new pipeline: an input and an output node, ready to wire."""
    return Pipeline(
        id=unique_id(name), name=name,
        nodes=[Node(id="in", kind="input", label="Input",
                    input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
               Node(id="out", kind="output", label="Output")],
        ui={"positions": {"in": {"x": 60, "y": 120}, "out": {"x": 700, "y": 120}}},
    )


async def save_new(pipeline: Pipeline) -> None:
    """Save a pipeline under an id nobody has (a file made meanwhile elsewhere is not overwritten)."""
    await io_bound(get_studio().pipelines.save, pipeline, expected=None)


async def save_renamed(pipeline_id: str, name: str) -> None:
    """Rename what is saved now, not the copy the list was drawn from: that would undo what the
    command line wrote since, or bring back what it deleted."""
    pipelines = get_studio().pipelines

    def rename() -> None:
        version = pipelines.version(pipeline_id)
        if version is None:
            raise NotFound(f"there is no pipeline {pipeline_id!r} to rename; it was deleted elsewhere.")
        current = pipelines.get(pipeline_id)
        pipelines.save(current.model_copy(update={"name": name}), expected=version)

    await io_bound(rename)


async def pipelines_list_page() -> None:
    studio = get_studio()
    samples = sample_pipelines()
    needs = await io_bound(key_needs, studio, samples)
    with frame("Pipelines"):
        with ui.row().classes("items-center gap-4 w-full"):
            ui.button("New pipeline", icon="add", on_click=lambda: new_dialog.open()).props("data-testid=new-pipeline")
            upload = ui.upload(auto_upload=True, on_upload=lambda e: import_upload(e)) \
                .props('accept=".json,application/json" flat bordered dense data-testid=import') \
                .classes("w-96 import-drop")
            ui.add_css(".import-drop .q-uploader__list { display: none; } .import-drop { min-height: 0; }")
            # A drop zone with a file-picker link, instead of Quasar's "0.0B / 0.00%" header.
            upload.add_slot("header", """
                <div class="row items-center no-wrap q-pa-sm full-width">
                  <q-icon name="upload_file" size="sm" class="q-mr-sm" />
                  <div class="col">Import: drop pipeline JSON here, or</div>
                  <q-btn flat dense no-caps label="choose a file" class="text-weight-bold"
                         style="text-decoration: underline" @click="props.pickFiles">
                    <q-uploader-add-trigger />
                  </q-btn>
                </div>""")
            upload.add_slot("list", "")
            import_result = ui.label().classes("text-sm").props("data-testid=import-result")

        @ui.refreshable
        def listing() -> None:
            pipelines = studio.pipelines.all()
            if not pipelines:
                ui.label("No pipelines yet: start a new one or use a sample below.")
            with ui.column().classes("w-full gap-1"):
                for p in pipelines:
                    with ui.row().classes("w-full items-center gap-3 border-b py-1").props(f"data-pipeline={p.id}"):
                        ui.link(p.name, f"/pipelines/{p.id}").classes("font-semibold")
                        ui.label(p.id).classes("text-xs text-grey-7")
                        ui.label(nodes_and_edges(len(p.nodes), len(p.edges))).classes("text-xs text-grey-7")
                        ui.space()
                        ui.button(icon="edit", on_click=lambda p=p: rename_dialog(p)).props("flat dense").tooltip("Rename")
                        ui.button(icon="content_copy", on_click=lambda p=p: duplicate(p)).props("flat dense").tooltip("Duplicate")
                        if studio.pipelines.backups_of(p.id):
                            ui.button(icon="history", on_click=lambda p=p: show_backups(p)) \
                                .props(f"flat dense data-testid=backups-{p.id}").tooltip("Backups")
                        ui.button(icon="delete", on_click=lambda p=p: confirm_delete(p)).props("flat dense color=negative").tooltip("Delete")
            for problem in studio.pipelines.problems():
                ui.label(str(problem)).classes("text-negative")

        listing()

        ui.label("Sample gallery").classes("text-lg mt-4")
        with ui.row().classes("gap-4"):
            for sample in samples:
                with ui.card().classes("w-72").props(f"data-sample={sample.id}"):
                    with ui.row().classes("w-full items-center no-wrap"):
                        ui.label(sample.name).classes("font-semibold")
                        ui.space()
                        needs_badge(needs[sample.id])
                    ui.label(sample.description).classes("text-xs")
                    ui.label(counted(len(sample.nodes), "node")).classes("text-xs text-grey-7")
                    ui.button("Use a copy", on_click=lambda s=sample: use_sample(s)).props("flat dense")

        with ui.dialog() as new_dialog, ui.card():
            name_input = ui.input("Name", value="New pipeline").props("autofocus data-testid=new-name")
            # Selected once shown, so typing replaces the default name instead of appending to it.
            new_dialog.on("show", lambda: name_input.run_method("select"))

            async def create() -> None:
                name = (name_input.value or "").strip()
                if not name:
                    name_input.error = "Give the pipeline a name."
                    return
                p = blank_pipeline(name)
                await save_new(p)
                ui.navigate.to(f"/pipelines/{p.id}")

            name_input.on("keydown.enter", create)  # as the Create button: typing a name and Enter is enough
            with ui.row():
                ui.button("Create", on_click=create).props("data-testid=create")
                ui.button("Cancel", on_click=new_dialog.close).props("flat")

        async def import_upload(e) -> None:
            upload.reset()
            try:
                doc = jsonread.loads(await e.file.read(), e.file.name)
                pipelines = [load_pipeline(d) for d in (doc if isinstance(doc, list) else [doc])]
            except (ValueError, UserError) as err:
                import_result.text = f"{e.file.name} is not a pipeline this studio can read: {err}"
                import_result.classes(add="text-negative", remove="text-positive")
                return
            taken = [p for p in pipelines if studio.pipelines.exists(p.id)]

            async def import_all(replace: bool) -> None:
                done = []
                for p in pipelines:
                    if p in taken and not replace:  # as `--rename`: a new id, and a name the list tells apart
                        [p] = await io_bound(studio.pipelines.import_doc, export_pipeline(p), rename=unique_id(p.id))
                        done.append(f"Imported '{p.name}' as {p.id}.")
                        continue
                    if p in taken:
                        await io_bound(studio.pipelines.import_doc, export_pipeline(p), replace=True)
                        done.append(f"Replaced '{p.name}' ({p.id}); the old version is kept as a backup.")
                        continue
                    await save_new(p)
                    done.append(f"Imported '{p.name}' as {p.id}.")
                import_result.text = " ".join(done)
                import_result.classes(add="text-positive", remove="text-negative")
                listing.refresh()

            if taken:
                ask_replace(f"{'Pipelines' if len(taken) > 1 else 'Pipeline'} {id_list([p.id for p in taken])}",
                            lambda: import_all(True), lambda: import_all(False), count=len(taken))
            else:
                await import_all(False)

        def show_backups(p: Pipeline) -> None:
            async def restore(name: str) -> None:
                await io_bound(studio.pipelines.restore, p.id, name)
                ui.notify(f"Restored {p.id} from {name}; the version it replaced is kept as a backup.", type="positive")
                listing.refresh()

            backups_dialog(f"pipeline {p.id}", [f.name for f in studio.pipelines.backups_of(p.id)], restore)

        async def duplicate(p: Pipeline) -> None:
            try:  # what is saved now, not the copy the list was drawn from
                p = await io_bound(studio.pipelines.get, p.id)
            except NotFound as e:  # deleted elsewhere: say so, and show the list as it is
                notify_error(e)
                listing.refresh()
                return
            copy = p.model_copy(deep=True, update={"id": unique_id(f"{p.id}-copy"), "name": f"{p.name} (copy)"})
            await save_new(copy)
            ui.notify(f"Duplicated as {copy.id}.")
            listing.refresh()

        async def use_sample(sample: Pipeline) -> None:
            copy = sample.model_copy(deep=True, update={"id": unique_id(sample.id)})
            await save_new(copy)
            ui.navigate.to(f"/pipelines/{copy.id}")

        def rename_dialog(p: Pipeline) -> None:
            with ui.dialog() as d, ui.card():
                field = ui.input("Name", value=p.name).props("autofocus")

                async def apply() -> None:
                    if not (field.value or "").strip():
                        ui.notify("A pipeline needs a name.", type="warning")
                        return
                    d.close()
                    try:
                        await save_renamed(p.id, field.value.strip())
                    except UserError as e:  # deleted or changed elsewhere meanwhile: said, the list redrawn
                        notify_error(e)
                    listing.refresh()

                with ui.row():
                    ui.button("Rename", on_click=apply)
                    ui.button("Cancel", on_click=d.close).props("flat")
            d.open()

        def confirm_delete(p: Pipeline) -> None:
            with ui.dialog() as d, ui.card():
                ui.label(f"Delete '{p.name}' ({p.id})? This cannot be undone; export it first to keep a copy.")

                async def apply() -> None:
                    await io_bound(studio.pipelines.delete, p.id)
                    d.close()
                    listing.refresh()

                with ui.row():
                    ui.button("Delete", on_click=apply).props("color=negative")
                    ui.button("Cancel", on_click=d.close).props("flat")
            d.open()


async def pipeline_editor_page(pipeline_id: str) -> None:
    studio = get_studio()
    try:
        version = studio.pipelines.version(pipeline_id)  # first: a write in between then asks, never is lost
        pipeline = studio.pipelines.get(pipeline_id)
    except (UserError, ValueError) as e:
        with frame("Pipelines"):
            ui.label(str(e)).classes("text-negative")
            ui.link("Back to the pipelines", "/pipelines")
        return
    missing = await services.keys_in_time(services.missing_keys, studio, studio.models.all(), default={})
    with frame(pipeline.name, narrow_nav=True):
        PipelineEditor(studio, pipeline, missing, version)
