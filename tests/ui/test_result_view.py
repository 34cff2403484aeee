"""An output shown on a page: a Markdown report rendered (not its markers), and nothing in an
output able to put markup or a fetched image on the page."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.ui.util import settle

REPORT = "## Text insights\n\n**Length:** 12 words\n\n- first\n- second"
HOSTILE = "## Hi\n\n<img src=x onerror=alert(1)> ![pixel](http://198.51.100.1/t.png) [l](javascript:alert(1)) `a<b`"


async def test_a_markdown_output_is_rendered_and_cannot_inject_markup(user: User):
    from studio.ui.result_view import result_view

    @ui.page("/test-result-view")
    def page() -> None:
        result_view({"report": REPORT, "words": 12}, testid="r1")
        result_view(HOSTILE, testid="r2")
        result_view("Plain **not** a heading? no: bold makes it Markdown", testid="r3")
        result_view("Just text, 2 * 3 = 6.", testid="r4")

    await user.open("/test-result-view")
    await settle()
    shown = [e for e in user.current_layout.descendants() if isinstance(e, ui.html)]
    assert len(shown) == 3  # the report, the hostile heading, the bold sentence; plain text stays a label
    report = shown[0].content
    assert "<h2>Text insights</h2>" in report and "<strong>Length:</strong>" in report and "<li>first</li>" in report
    assert "**" not in report and "##" not in report
    hostile = shown[1].content
    assert "<img" not in hostile and "&lt;img src=x onerror=alert(1)&gt;" in hostile  # as text, not an element
    assert "pixel" in hostile and "198.51.100.1" not in hostile  # the image's alt text, nothing fetched
    assert "javascript:" not in hostile and "<code>a&lt;b</code>" in hostile
    await user.should_see("Just text, 2 * 3 = 6.")
