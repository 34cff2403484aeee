"""The model registry: ModelSpecs stored one file each under IOM_HOME/models/."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import ValidationError

from studio.atomic import file_locked, write_json
from studio import jsonread
from studio.registry.backups import Backups, ImportConflict, refuse_repeats
from studio.errors import CorruptFile, NotFound, UserError
from studio.registry.files import ANY_VERSION, JsonFolder
from studio.registry.guard import refuse_secrets
from studio.registry.quality import move_out_of_models_folder
from studio.registry.search import ModelQuery, search
from studio.secrets import KeyStore
from studio.spec.base import utcnow
from studio.spec.legacy import from_prototype, looks_like_prototype
from studio.spec.migrations import describe_validation_error
from studio.spec.model import HealthStatus, ModelSpec

EXPORT_FORMAT = "iom.models"


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    keys_stored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)  # old versions kept aside by a replace

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.updated)} replaced" if self.backups else f"{len(self.updated)} updated"]
        if self.backups:
            parts.append(f"old versions kept in {', '.join(self.backups)}")
        if self.keys_stored:
            parts.append(f"keys stored in the keyring: {', '.join(self.keys_stored)}")
        return "; ".join(parts)


class ModelRegistry:
    def __init__(self, home: Path, keys: KeyStore, check_params: Callable[[ModelSpec], str | None] | None = None):
        self.home = home
        self.keys = keys
        # what is wrong with a spec's defaultParams, by the check its calls make (the providers'
        # knowledge, handed in by the Studio: the registry does not import the layer above it)
        self._check_params = check_params
        move_out_of_models_folder(home)  # saved quality's first place, before it is read as a model
        self._folder: JsonFolder[ModelSpec] = JsonFolder(home / "models", ModelSpec.model_validate, "model",
                                                          own_id=lambda spec: spec.id)
        self._health_path = home / "health.json"
        self._health_lock_path = home / "health.json.lock"
        # health.json is read-modified-written from worker threads (start check, schedule, "Check now"):
        # without the lock two probes finishing together lose one result
        self._health_lock = threading.Lock()
        self.backups = Backups(home / "backups" / "models", "model")

    # -- reading -------------------------------------------------------------------------
    def all(self) -> list[ModelSpec]:
        items, _ = self._folder.scan()
        return sorted(items.values(), key=lambda s: s.id)

    def problems(self) -> list[CorruptFile]:
        return self._folder.scan()[1]

    def unreadable(self) -> dict[str, str]:
        """Model id -> the sentence on its damaged file, for the ids whose files cannot be read
        (a pipeline naming one is told that, not that the model is unknown)."""
        out = {}
        for problem in self.problems():
            try:
                ident = Path(problem.path).relative_to(self._folder.root).with_suffix("").as_posix()
            except ValueError:
                continue
            out[ident] = str(problem)
        return out

    def get(self, model_id: str) -> ModelSpec:
        try:
            spec = self._folder.get(model_id)
        except ValueError:
            spec = None
        if spec is None:
            raise NotFound(f"there is no model {model_id!r} in the registry; 'iom models list' shows the ids.")
        return spec

    def find(self, model_id: str) -> ModelSpec | None:
        try:
            return self.get(model_id)
        except (NotFound, CorruptFile):
            return None

    def search(self, query: ModelQuery, calls: dict[str, dict] | None = None) -> list[ModelSpec]:
        """`calls`: the recent call figures, so max latency is the measured p50 where there is one."""
        return search(self.all(), query, self.health_all(), calls)

    # -- writing -------------------------------------------------------------------------
    def version(self, model_id: str) -> str | None:
        """The saved file's version (None: not saved): what a form hands back to `save`."""
        return self._folder.version(model_id)

    def save(self, spec: ModelSpec, *, create: bool | None = None, durable: bool = True,
             expected: object = ANY_VERSION, keep_replaced: bool = False, sample: bool = False) -> ModelSpec:
        """Create or update. create=True refuses an existing id, False a missing one (each
        checked under the folder's lock, so two processes creating one id cannot both succeed).
        `expected`: the version the caller read, refused with ChangedElsewhere when the file is
        no longer that; `keep_replaced` backs up what is overwritten.
        `durable=False` skips the fsyncs (atomic.write_bytes): for the shipped samples only.
        `sample`: a shipped sample, which holds no key of the user's, so the stored keys are not
        read first (a keyring lookup each: +85 ms on a first start's seeding)."""
        problem = self.params_problem(spec)
        if problem:
            raise UserError(f"{problem}; fix defaultParams, then save again (nothing was saved).")
        old = self.find(spec.id)
        if old is not None:
            spec = spec.model_copy(update={"created": old.created})
        spec = spec.model_copy(update={"updated": utcnow()})
        doc = spec.to_json_dict()
        if not sample:
            self.read_keys([spec])
        refuse_secrets(doc, f"model {spec.id}")

        def before(path: Path) -> None:
            exists = path.exists()
            if create is True and exists:
                raise UserError(f"a model with id {spec.id!r} exists already; choose another id or edit it.")
            if create is False and not exists:
                raise NotFound(f"there is no model {spec.id!r} to update.")
            if keep_replaced:
                self.backups.keep(spec.id, path)

        self._folder.write(spec.id, doc, durable=durable, expected=expected,
                           before=before if create is not None or keep_replaced else None)
        if old is not None and _reached_differently(old, spec):
            self._forget_health(spec.id)
        return spec

    def params_problem(self, spec: ModelSpec) -> str | None:
        """One sentence naming the model and its default param that every call would refuse, or None."""
        problem = self._check_params(spec) if self._check_params is not None else None
        return f"model {spec.id!r}: its {problem}" if problem else None

    def _forget_health(self, model_id: str) -> None:
        self._drop_health({model_id})

    def forget_health_of_key(self, key_name: str) -> list[str]:
        """Drop the stored health of the models that use this key, when the key is set, changed
        or deleted: a "key_missing" or "auth_failed" found with the old value says nothing about
        the new one, and a capability node left those models out until the next check (up to
        30 minutes later). Under the file lock, so another process's probe result is not lost.
        Returns the ids whose health was dropped."""
        users = {s.id for s in self.all() if s.key_ref == key_name}
        return self._drop_health(users) if users else []

    def keep_backup(self, model_id: str) -> Path | None:
        """Copy the saved file aside (a reset is about to overwrite or remove it)."""
        return self.backups.keep(model_id, self._folder.path_for(model_id))

    def delete(self, model_id: str) -> None:
        if not self._folder.delete(model_id):
            raise NotFound(f"there is no model {model_id!r} to remove.")
        self._forget_health(model_id)

    # -- import / export ------------------------------------------------------------------
    def parse_entries(self, doc: Any) -> list[dict]:
        if isinstance(doc, dict) and doc.get("format") == EXPORT_FORMAT:
            doc = doc.get("models", [])
        elif isinstance(doc, dict) and isinstance(doc.get("models"), list):
            doc = doc["models"]
        if isinstance(doc, dict):
            doc = [doc]
        if not isinstance(doc, list) or not all(isinstance(d, dict) for d in doc):
            raise UserError("a model file must hold one model object, a list of them, or an IoM models export.")
        return doc

    def import_doc(self, doc: Any, *, source: str = "the file", replace: bool = False,
                   rename: str | None = None) -> ImportReport:
        """Import models (IoM format or the prototype's). All entries are checked first; if
        any is invalid, or names an id that exists (unless `replace`: then the old version is
        kept as a backup), nothing is saved and the first fault is named. `rename` imports a
        single model under another id."""
        jsonread.check_shape(doc, source)
        entries = self.parse_entries(doc)
        staged: list[tuple[ModelSpec, str | None]] = []
        for i, entry in enumerate(entries):
            label = entry.get("id") or entry.get("name") or f"entry {i + 1}"
            label = label if isinstance(label, str) and len(label) <= 60 else (
                f"{label[:57]}..." if isinstance(label, str) else f"entry {i + 1}")
            try:
                if looks_like_prototype(entry):
                    staged.append(from_prototype(entry))
                else:
                    staged.append((ModelSpec.model_validate(entry), None))
            except ValidationError as e:
                raise UserError(f"{source}: model {label!r} is not valid: {describe_validation_error(e)}. Nothing was imported.") from None
            except UserError as e:
                raise UserError(f"{source}: model {label!r} is not valid: {e} Nothing was imported.") from None
        if rename is not None:
            if len(staged) != 1:
                raise UserError(f"--rename takes one model; {source} holds {len(staged)}. Nothing was imported.")
            staged = [(_renamed(staged[0][0], rename, "model"), staged[0][1])]
        for spec, _key in staged:  # every entry checked before any is saved
            problem = self.params_problem(spec)
            if problem:
                raise UserError(f"{source}: {problem}; fix its defaultParams, then import again (nothing was imported).")
        ids = [spec.id for spec, _key in staged]
        refuse_repeats("model", ids, source)
        if not replace:
            ImportConflict.check("model", ids, lambda ident: self.find(ident) is not None, renamed=rename is not None)
        report = ImportReport()
        stored: dict[str, str] = {}  # key name -> the key this import stored under it
        for spec, api_key in staged:
            if api_key:
                if self.keys.available():
                    name = self._key_name(spec, api_key, stored)
                    if name != spec.key_ref:
                        report.warnings.append(f"the apiKey of {spec.id} is stored as {name}: {spec.key_ref} holds "
                                               "another key, which stays as it was")
                        spec = spec.model_copy(update={"key_ref": name})
                    self.keys.set(name, api_key)
                    self.forget_health_of_key(name)
                    stored[name] = api_key
                    report.keys_stored.append(name)
                    if spec.api == "http" and not any("{{key}}" in v for v in (spec.http.headers if spec.http else {}).values()):
                        report.warnings.append(f"{spec.id} sends its key {name} in no header yet; add one to its HTTP "
                                               "settings, e.g. Authorization: Bearer {{key}}")
                else:
                    report.warnings.append(
                        f"the apiKey of {spec.id} was not stored (no keyring); set it later with 'iom keys set {spec.key_ref}'"
                    )
            existed = self.find(spec.id) is not None
            if existed:
                report.backups.append(str(self.backups.keep(spec.id, self._folder.path_for(spec.id))))
            self.save(spec, create=None if replace else True)
            (report.updated if existed else report.added).append(spec.id)
            if spec.incomplete:
                report.warnings.append(f"{spec.id} has no provider model name yet; set 'model' before calling it")
        return report

    def _key_name(self, spec: ModelSpec, api_key: str, stored: dict[str, str]) -> str:
        """Where an imported model's key goes: its provider's usual name (OPENAI_API_KEY…) unless
        that holds another key — one set before, or another model's of this import — then a name
        of the model's own, which its next import may update. A key is never replaced silently:
        models of one provider with keys of different accounts each keep theirs."""
        held = stored.get(spec.key_ref) or self.keys.get(spec.key_ref)
        if held is None or held == api_key:
            return spec.key_ref
        return "MODEL_" + re.sub(r"[^A-Z0-9]+", "_", spec.id.upper()).strip("_")[:100] + "_KEY"

    def import_file(self, path: Path, *, replace: bool = False, rename: str | None = None) -> ImportReport:
        try:
            return self.import_doc(read_json_file(path), source=str(path), replace=replace, rename=rename)
        except ImportConflict as e:  # (the UI imports a document and asks what to do instead)
            raise UserError(f"{path}: {e}") from None

    def restore(self, model_id: str, backup: str | None = None) -> tuple[ModelSpec, Path]:
        """Put a backup back; the version it replaces is itself kept as a backup first."""
        path = self.backups.pick(model_id, backup)
        try:
            spec = ModelSpec.model_validate(read_json_file(path))
        except ValidationError as e:
            raise UserError(f"the backup {path} is not a valid model ({describe_validation_error(e)}); pick another "
                            f"with --from, or delete it.") from None
        self.backups.keep(model_id, self._folder.path_for(model_id))
        return self.save(spec), path

    def read_keys(self, specs: list[ModelSpec]) -> None:
        """Read every key the studio stores and those these models name, so that the redaction
        knows their values (it knows only what this process has read): a key's value pasted into
        a param or a header is then refused by `refuse_secrets`, also in a process that has made
        no call (the CLI's)."""
        if self.keys is None:  # a registry made without a key store (a test's, a script's) knows no key
            return
        names = set(self.keys.names()) | {s.key_ref for s in specs if s.key_ref}
        for name in sorted(names):
            self.keys.get(name)  # remembered by the redaction as it is read

    def export_doc(self, ids: list[str] | None = None) -> dict:
        """The models as `iom models export` writes them, each id once (an id named twice was
        written twice, and the import of that file refused it), refused if one holds a secret."""
        specs = [self.get(i) for i in dict.fromkeys(ids)] if ids else self.all()
        self.read_keys(specs)
        doc = {"format": EXPORT_FORMAT, "version": 1, "models": [s.to_json_dict() for s in specs]}
        refuse_secrets(doc, "the export" if len(specs) != 1 else f"model {specs[0].id}", undone="Nothing was written.")
        return doc

    # -- health ---------------------------------------------------------------------------
    def health_all(self) -> dict[str, HealthStatus]:
        try:
            raw = json.loads(self._health_path.read_text("utf-8"))
            return {k: HealthStatus.model_validate(v) for k, v in raw.items()}
        except (FileNotFoundError, ValueError, ValidationError, AttributeError):
            return {}

    def health(self, model_id: str) -> HealthStatus:
        return self.health_all().get(model_id, HealthStatus())

    def set_health(self, model_id: str, status: HealthStatus) -> None:
        with self._health_edit() as health:
            health[model_id] = status

    def _drop_health(self, model_ids: set[str]) -> list[str]:
        """Forget these models' stored health; the ids that had one."""
        with self._health_edit() as health:
            dropped = sorted(model_ids & health.keys())
            for ident in dropped:
                del health[ident]
        return dropped

    @contextlib.contextmanager
    def _health_edit(self) -> Iterator[dict[str, HealthStatus]]:
        """health.json read, changed by the caller and written back (when it changed) as one
        step: under a thread lock (start check, schedule, "Check now") and a file lock (the CLI
        and the web app save too), so two saves at once do not lose one."""
        with self._health_lock, file_locked(self._health_lock_path):
            health = self.health_all()
            before = dict(health)
            yield health
            if health != before:
                self._save_health(health)

    def _save_health(self, health: dict[str, HealthStatus]) -> None:
        write_json(self._health_path, {k: v.to_json_dict() for k, v in sorted(health.items())})


def read_json_file(path: Path) -> Any:
    """Read a JSON file a user named, with one clear sentence for each way it can fail."""
    return jsonread.read_file(path)


def parse_json_text(text: str | bytes, source: str) -> Any:
    return jsonread.loads(text, source)


def _renamed(spec, new_id: str, kind: str):
    """The spec under a new id, checked like any id, its name telling it apart from the one it
    copies (two entries of one name in a list were told apart by their ids alone)."""
    from studio.spec.base import check_slug

    try:
        check_slug(new_id, f"the new {kind} id")
    except ValueError as e:
        raise UserError(f"{e}. Nothing was imported.") from None
    return spec.model_copy(update={"id": new_id, "name": f"{spec.name} ({new_id})"})


def _reached_differently(old: ModelSpec, new: ModelSpec) -> bool:
    """Whether an edit changed how the model is called: its health (say, "unreachable" with the
    old endpoint's error) no longer says anything about it, and is dropped until the next check."""
    return (old.endpoint, old.api, old.model, old.key_ref, old.provider, old.http) != \
        (new.endpoint, new.api, new.model, new.key_ref, new.provider, new.http)
