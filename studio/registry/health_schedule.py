"""When every model's health is refreshed in the background, and which models it probes.
The setting lives under IOM_HOME so the user's choice (on the Settings page) survives restarts;
a model whose key is not set is skipped: probing it would only say "key missing" again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.atomic import write_json

DEFAULT_MINUTES = 30


@dataclass
class HealthSchedule:
    enabled: bool = True
    every_minutes: int = DEFAULT_MINUTES


def _path(home: Path) -> Path:
    return home / "health-schedule.json"


def load_schedule(home: Path) -> HealthSchedule:
    """The saved choice; the default (on, every 30 minutes) when none is saved or it is unreadable."""
    try:
        doc = json.loads(_path(home).read_text(encoding="utf-8"))
        minutes = int(doc.get("everyMinutes", DEFAULT_MINUTES))
        return HealthSchedule(bool(doc.get("enabled", True)), minutes if minutes >= 1 else DEFAULT_MINUTES)
    except (OSError, ValueError, TypeError, AttributeError):
        return HealthSchedule()


def save_schedule(home: Path, schedule: HealthSchedule) -> None:
    if not isinstance(schedule.every_minutes, int) or not 1 <= schedule.every_minutes <= 24 * 60:
        from studio.errors import UserError

        raise UserError("the health refresh interval must be a whole number of minutes from 1 to 1440.")
    write_json(_path(home), {"enabled": schedule.enabled, "everyMinutes": schedule.every_minutes})


def models_to_probe(studio) -> list:
    """Every callable model; keyed ones only when their key is set. Blocking (keyring)."""
    out = []
    for spec in studio.models.all():
        if spec.incomplete:
            continue
        if spec.key_ref and not studio.keys.status(spec.key_ref).is_set:
            continue
        out.append(spec)
    return out
