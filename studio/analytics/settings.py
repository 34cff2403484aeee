"""Analytics settings, kept in IOM_HOME/analytics.json (a small file the person can read and
edit; the database holds data only, so settings survive moving the database aside)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from studio.atomic import write_json
from studio.errors import UserError
from studio.spec.base import SpecModel

FILE_NAME = "analytics.json"
MAX_RETENTION_DAYS = 36_500  # a hundred years: past that, dates overflow


class AnalyticsSettings(SpecModel):
    retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)  # None keeps call detail forever
    audit_hashes_only: bool = False  # store only sha256 of inputs/outputs, never their content
    # DuckDB's own default is 80% of the machine's memory, which a long session or a long batch
    # slowly takes as cache of a growing database; beyond this it evicts (or spills to disk).
    memory_limit_mb: int = Field(default=256, ge=16)


def load_settings(home: Path) -> AnalyticsSettings:
    path = Path(home) / FILE_NAME
    if not path.exists():
        return AnalyticsSettings()
    try:
        return AnalyticsSettings.model_validate(json.loads(path.read_text("utf-8")))
    except (ValueError, OSError) as e:
        raise UserError(f"{path} is not valid analytics settings ({e.__class__.__name__}); fix or delete it.") from None


def save_settings(home: Path, settings: AnalyticsSettings) -> None:
    write_json(Path(home) / FILE_NAME, settings.model_dump(mode="json", by_alias=True))
