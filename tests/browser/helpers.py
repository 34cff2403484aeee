"""Selenium helpers for the studio's pages: elements are addressed by the data-testid props the
pages set (Quasar puts them on a field's outer element, so inputs are found inside it)."""

from __future__ import annotations

import time
from typing import Callable

from nicegui.testing import Screen
from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement


def by_testid(screen: Screen, testid: str) -> WebElement:
    return screen.find_by_css(f'[data-testid="{testid}"]')


def click(screen: Screen, target: str | Callable[[], WebElement], timeout: float = 5.0) -> None:
    """Click once the element (a data-testid, or a function that finds it) stands still and
    nothing else is in front of it: a dialog still opening (Quasar's scale transition) moves
    its buttons, so a click aimed at one lands on whatever has moved under that point; a toast
    leaving would take the click. Retried until `timeout`, then raised."""
    find = (lambda: by_testid(screen, target)) if isinstance(target, str) else target
    deadline = time.monotonic() + timeout
    while True:
        try:
            element = find()
            before = element.rect
            screen.wait(0.05)
            if element.rect != before and time.monotonic() < deadline:
                continue  # still moving
            element.click()
            return
        except (ElementClickInterceptedException, StaleElementReferenceException):  # covered, or re-rendered
            if time.monotonic() > deadline:
                raise
            screen.wait(0.1)


def field(screen: Screen, testid: str) -> WebElement:
    """The <input> or <textarea> of a Quasar field."""
    outer = by_testid(screen, testid)
    if outer.tag_name in ("input", "textarea"):
        return outer
    return outer.find_element(By.CSS_SELECTOR, "input, textarea")


def replace_text(screen: Screen, testid: str, text: str) -> WebElement:
    el = field(screen, testid)
    screen.selenium.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    screen.wait(0.2)
    el.click()
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(Keys.DELETE)
    el.send_keys(text)
    return el


def choose(screen: Screen, testid: str, option: str) -> None:
    """Pick an option of a q-select by its visible label."""
    by_testid(screen, testid).click()
    screen.wait(0.3)
    for item in screen.selenium.find_elements(By.CSS_SELECTOR, ".q-menu .q-item"):
        if item.text.strip() == option:
            item.click()
            screen.wait(0.3)
            return
    raise AssertionError(f"no option {option!r} in {testid}")


def wait_until(condition, timeout: float = 10.0):
    """Poll the page until the condition holds; fail with the last state otherwise."""
    end = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:  # an element not rendered yet
            if time.monotonic() > end:
                raise
        if time.monotonic() > end:
            raise AssertionError("the page did not reach the expected state in time")
        time.sleep(0.1)
