"""How long the output cache answers for a remote model, kept in IOM_HOME/cache.json (a small
file a person can read and edit, as analytics.json is).

A remote model id names whatever its provider serves under it today: an alias moves to a new
snapshot, a fine-tune is replaced, and an answer cached at temperature 0 would go on being
reused after that, however long ago it was made. So a remote model's cached output is reused
for `remote_max_age_days` (7 by default; None: until cleared), then called again. A built-in
model's entries carry the version of its code and libraries in their key, so they live until
cleared or pushed out by the cache's bounds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field

from studio.atomic import write_json
from studio.errors import UserError
from studio.spec.base import SpecModel

FILE_NAME = "cache.json"
DEFAULT_REMOTE_MAX_AGE_DAYS = 7.0


class CacheSettings(SpecModel):
    remote_max_age_days: float | None = Field(default=DEFAULT_REMOTE_MAX_AGE_DAYS, gt=0)


def settings_path(home: Path) -> Path:
    return Path(home) / FILE_NAME


def load_cache_settings(home: Path) -> CacheSettings:
    path = settings_path(home)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return CacheSettings()
    except OSError as e:
        raise UserError(f"could not read {path} ({e.strerror or e}); check its permissions.") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not text (not UTF-8); fix or delete it.") from None
    try:
        return CacheSettings.model_validate(json.loads(text))
    except ValueError as e:
        raise UserError(f"{path} is not valid cache settings ({e.__class__.__name__}); fix or delete it.") from None


def save_cache_settings(home: Path, settings: CacheSettings) -> None:
    write_json(settings_path(home), settings.model_dump(mode="json", by_alias=True))


class RemoteMaxAge:
    """The setting as the cache asks for it on every lookup: the file is read again only when
    it changed (another process, the Settings page, `iom cache max-age`); an unreadable file
    keeps the default (the Settings page and `iom cache show` say what is wrong with it)."""

    def __init__(self, home: Path):
        self.path = settings_path(home)
        self._seen: tuple[int, int] | None = None
        self._seconds: float | None = DEFAULT_REMOTE_MAX_AGE_DAYS * 86400  # what a missing file means

    def seconds(self) -> float | None:
        try:
            st = os.stat(self.path)
            seen = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:
            self._seen = seen
            try:
                days = load_cache_settings(self.path.parent).remote_max_age_days
            except UserError:
                days = DEFAULT_REMOTE_MAX_AGE_DAYS
            self._seconds = None if days is None else days * 86400
        return self._seconds
