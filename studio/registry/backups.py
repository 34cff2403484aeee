"""Old versions kept when an import replaces a saved model or pipeline, so nothing is lost by
a replace: `IOM_HOME/backups/<kind>/<id>/<UTC time>.json`, listed newest first, restorable
from the CLI (`iom models|pipelines backups ID`, `restore ID`) and the UI."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from studio.atomic import write_bytes
from studio.errors import NotFound, UserError, named_twice


class Backups:
    def __init__(self, root: Path, kind: str):
        self.root = root
        self.kind = kind  # "model" or "pipeline", for messages

    def _dir(self, ident: str) -> Path:
        return self.root / ident

    def keep(self, ident: str, current: Path) -> Path | None:
        """Copy the saved file aside before it is replaced; None when there is none."""
        if not current.exists():
            return None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self._dir(ident) / f"{stamp}.json"
        write_bytes(target, current.read_bytes())
        return target

    def list(self, ident: str) -> list[Path]:
        folder = self._dir(ident)
        return sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []

    def pick(self, ident: str, name: str | None = None) -> Path:
        """The newest backup, or the one named (its file name as `backups` lists it)."""
        found = self.list(ident)
        if not found:
            raise NotFound(f"there is no backup of {self.kind} {ident!r}; backups are made when an import replaces it.")
        if name is None:
            return found[0]
        for path in found:
            if name in (path.name, path.stem, str(path)):
                return path
        raise UserError(f"{name!r} is not a backup of {self.kind} {ident!r}; "
                        f"'iom {self.kind}s backups {ident}' lists them.")

    def forget(self, ident: str) -> None:
        shutil.rmtree(self._dir(ident), ignore_errors=True)


def refuse_repeats(kind: str, ids: list[str], source: str) -> None:
    """One file naming an id twice: the second would replace the first, and the report count both."""
    twice = named_twice(ids)
    if twice is not None:
        raise UserError(f"{source} holds {kind} {twice!r} twice; keep one of them. Nothing was imported.")


class ImportConflict(UserError):
    """An import names an id that exists; the UI asks what to do, the CLI names its flags."""

    def __init__(self, kind: str, ident: str, *, taken: int = 1, total: int = 1, ids: list[str] | None = None,
                 renamed: bool = False):
        self.kind, self.ident = kind, ident
        self.ids = ids or [ident]  # every id that exists already: the UI names them all
        if renamed:  # --replace cannot go with --rename, and alone it replaces the file's own id, not this one
            remove = "remove" if kind == "model" else "delete"
            super().__init__(f"a {kind} with id {ident!r} exists already; nothing was imported. Run again with "
                             f"another NEW_ID for --rename, or {remove} the {kind} {ident!r} first ('iom {kind}s {remove} "
                             f"{ident}') if it is the one to replace.")
        elif total == 1:
            super().__init__(f"a {kind} with id {ident!r} exists already; nothing was imported. Run again with "
                             f"--replace to replace it (the old version is kept as a backup) or with --rename NEW_ID "
                             f"to import it as a new {kind}.")
        elif taken == 1:  # --rename takes one entry: not a way out here
            super().__init__(f"1 of the file's {total} {kind}s exists already ({ident!r}); nothing was imported. "
                             "Run again with --replace to replace it (the old version is kept as a backup), or "
                             "leave it out of the file.")
        else:
            super().__init__(f"{taken} of the file's {total} {kind}s exist already ({ident!r} the first); nothing "
                             "was imported. Run again with --replace to replace them (the old versions are kept as "
                             "backups), or leave them out of the file.")

    @classmethod
    def check(cls, kind: str, ids: list[str], exists, *, renamed: bool = False) -> None:
        """Raise for the ids of an import that `exists` finds (all counted, the first named);
        `renamed`: the id is the one --rename gave."""
        taken = [ident for ident in ids if exists(ident)]
        if taken:
            raise cls(kind, taken[0], taken=len(taken), total=len(ids), ids=taken, renamed=renamed)
