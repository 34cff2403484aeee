"""The scheduled health refresh: the Settings card saves the choice under IOM_HOME, a bad
interval is one sentence, and one refresh round probes every model the schedule covers
(keyed ones only with their key) and stores the results."""

from __future__ import annotations

from nicegui.testing import User

from studio.registry.health_schedule import HealthSchedule, load_schedule, models_to_probe
from studio.ui.app import get_studio, refresh_health
from tests.ui.util import by_testid, element, set_value, settle, wait_until


async def test_settings_card_turns_the_schedule_off_and_sets_the_interval(user: User, iom_home):
    await user.open("/settings")
    await user.should_see("Refresh health on a schedule")
    assert load_schedule(iom_home) == HealthSchedule(True, 30)  # on by default
    set_value(user, "health-schedule-on", False)
    set_value(user, "health-schedule-minutes", 5)
    by_testid(user, "health-schedule-save").click()
    await wait_until(lambda: load_schedule(iom_home) == HealthSchedule(False, 5), "the saved schedule")
    set_value(user, "health-schedule-minutes", 0)
    with user.client:
        element(user, "health-schedule-minutes").sanitize()  # what leaving the field does: it clamped 0 to 1
    by_testid(user, "health-schedule-save").click()
    await user.should_see("the health refresh interval must be a whole number of minutes from 1 to 1440.")
    assert load_schedule(iom_home) == HealthSchedule(False, 5)  # nothing saved half-way


async def test_one_round_probes_local_and_skips_models_without_key(user: User, monkeypatch):
    await user.open("/settings")  # starts the app with the seeded samples
    studio = get_studio()
    for spec in studio.models.all():  # no key from the environment: no call may leave the machine
        if spec.key_ref:
            monkeypatch.delenv(spec.key_ref, raising=False)
    assert all(s.api == "local" or "localhost" in s.endpoint for s in models_to_probe(studio))
    probed = await refresh_health(studio)
    covered = models_to_probe(studio)
    assert probed == len(covered) and any(s.api == "local" for s in covered)
    assert not any(s.key_ref and not studio.keys.status(s.key_ref).is_set for s in covered)
    health = studio.models.health_all()
    assert all(health[s.id].state == "ok" for s in covered if s.api == "local")
    skipped = [s for s in studio.models.all() if s.key_ref and not studio.keys.status(s.key_ref).is_set]
    assert skipped and all(s not in covered for s in skipped)
    await settle()
