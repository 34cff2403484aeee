"""The registry page in real Chromium at its limits: a price too large to be real, a health
check clicked twice, an import over several existing ids, and names too long for the table."""

from __future__ import annotations

import asyncio
import json

from nicegui.testing import Screen

from studio.spec.model import ModelSpec

from tests.browser.helpers import by_testid, click, field, replace_text, wait_until


def test_a_price_too_large_is_named_and_what_was_typed_stays(screen: Screen):
    """1e400 in a price field was emptied by the number field (read as nothing), and a price of
    1e12 USD per million tokens was saved."""
    screen.open("/registry")
    by_testid(screen, "register").click()
    screen.should_contain("Register a model")
    replace_text(screen, "form-id", "local/priced")
    replace_text(screen, "form-name", "Priced")
    replace_text(screen, "form-price-in", "1e400")
    replace_text(screen, "form-price-call", "1e12")
    too_large = "This price is too large: at most 10,000 USD per million tokens (0.01 USD per token); check it for a typo."
    screen.should_contain(too_large)
    screen.should_contain("This price is too large: at most 1,000 USD per call; check it for a typo.")
    click(screen, "form-save")
    screen.should_contain("need attention")
    for testid, typed in (("form-price-in", "1e400"), ("form-price-call", "1e12")):
        assert field(screen, testid).get_attribute("value") == typed  # kept, not emptied
    wrapper = screen.selenium.find_element(
        "xpath", '//*[@data-testid="form-price-in"]/ancestor::label[contains(@class, "q-field")]')
    assert "q-field--error" in wrapper.get_attribute("class") and too_large in wrapper.get_attribute("textContent")
    from studio.ui.app import get_studio

    assert get_studio().models.find("local/priced") is None


def test_check_now_is_busy_until_the_check_ends_and_ignores_clicks_meanwhile(screen: Screen, monkeypatch):
    """A second click on "Check now" while a check ran started another one."""
    from studio.ui.app import get_studio

    screen.open("/registry")
    studio = get_studio()
    probes: list[str] = []

    async def slow_check(spec):
        probes.append(spec.id)
        await asyncio.sleep(2)
        return await original(spec)

    original = studio.providers.check
    monkeypatch.setattr(studio.providers, "check", slow_check)
    screen.click("local/text-stats")
    button = by_testid(screen, "check-now")
    screen.wait(0.5)  # the drawer slides in
    screen.selenium.execute_script("arguments[0].click(); arguments[0].click()", button)  # before any answer
    busy = lambda: button.get_attribute("disabled") is not None  # noqa: E731
    wait_until(busy, timeout=2)
    screen.selenium.execute_script("arguments[0].click()", button)  # while it shows busy
    screen.wait(0.3)
    wait_until(lambda: not busy(), timeout=10)
    assert probes == ["local/text-stats"]
    assert studio.models.health("local/text-stats").state == "ok"
    screen.selenium.execute_script("arguments[0].click()", button)  # once done, it checks again
    wait_until(lambda: len(probes) == 2, timeout=5)


def upload(screen: Screen, path) -> None:
    by_testid(screen, "import").click()
    screen.wait(0.5)
    screen.selenium.find_element("css selector", '[data-testid="upload"] input[type=file]').send_keys(str(path))


def test_an_import_over_several_existing_ids_names_every_one(screen: Screen, tmp_path):
    """The question named only the first clashing model, while Replace replaced them all."""
    from studio.ui.app import get_studio

    screen.open("/registry")
    models = get_studio().models
    taken = sorted(s.id for s in models.all())[:3]
    doc = {"models": [{**models.get(i).to_json_dict(), "description": "imported"} for i in taken]}
    (tmp_path / "three.json").write_text(json.dumps(doc))
    upload(screen, tmp_path / "three.json")
    screen.should_contain(f"Models {taken[0]}, {taken[1]} and {taken[2]} exist already.")
    screen.should_contain("Replace all 3 (the old versions are kept as backups you can restore) or cancel.")
    click(screen, "import-replace")
    screen.should_contain("3 replaced")
    assert all(models.get(i).description == "imported" for i in taken)

    everything = sorted(s.id for s in models.all())
    doc = {"models": [models.get(i).to_json_dict() for i in everything]}
    (tmp_path / "all.json").write_text(json.dumps(doc))
    screen.open("/registry")
    upload(screen, tmp_path / "all.json")
    screen.should_contain(f"Models {', '.join(everything[:5])} and {len(everything) - 5} more exist already.")


def test_a_long_name_and_id_keep_the_table_in_the_page(screen: Screen):
    """A model with a 120-character name and id pushed the Price, Latency and Health columns
    out of the page; now they are cut with an ellipsis and shown whole in a tooltip."""
    from studio.ui.app import get_studio

    screen.open("/registry")
    name = "An extraordinarily long model name " * 4
    ident = "local/" + "very-long-model-id-" * 5 + "end"
    get_studio().models.save(ModelSpec(id=ident, name=name.strip(), provider="local", api="local", model="echo"))
    screen.open("/registry")
    screen.should_contain(ident[:30])
    table = by_testid(screen, "models-table")
    layout = screen.selenium.execute_script("""
        const t = arguments[0], middle = t.querySelector('.q-table__middle');
        const health = [...t.querySelectorAll('th')].find(th => th.textContent.includes('Health'));
        return {page: document.documentElement.clientWidth, scrollPage: document.documentElement.scrollWidth,
                healthRight: health.getBoundingClientRect().right,
                middle: middle.clientWidth, scrollMiddle: middle.scrollWidth};""", table)
    assert layout["healthRight"] <= layout["page"], layout
    assert layout["scrollPage"] <= layout["page"] and layout["scrollMiddle"] <= layout["middle"], layout
    titles = screen.selenium.execute_script(
        "return [...arguments[0].querySelectorAll('[title]')].map(e => e.getAttribute('title'))", table)
    assert name.strip() in titles and ident in titles  # the whole name and id, on hover
