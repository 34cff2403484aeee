"""The first page in real Chromium: the registry is listed and the shell's navigation is there."""

from nicegui.testing import Screen


def test_first_page_lists_the_seeded_registry(screen: Screen):
    screen.open("/")
    screen.should_contain("IoM Studio")
    screen.should_contain("openai/gpt-4o-mini")
    screen.should_contain("anthropic/claude-haiku-4-5")
    screen.should_contain("Pipelines")
