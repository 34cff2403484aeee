"""The first page in real Chromium: a first start lands on the start page, whose offline
samples run with one click and show their result, whose keyed samples show the exact requests
a run would send (key masked) and the way to set the key; the registry is one click away."""

from nicegui.testing import Screen

from tests.browser.helpers import by_testid


def test_first_start_lands_on_the_start_page_and_a_sample_runs_in_one_click(screen: Screen):
    screen.open("/")
    screen.should_contain("Prototype with many AI models at once")
    screen.should_contain("Try it now")
    by_testid(screen, "run-text-insights").click()
    result = lambda: by_testid(screen, "result-text-insights").text  # noqa: E731
    screen.wait_for(lambda: "words" in result())
    assert "{" not in result()  # a readable table, not raw JSON
    # the "short Markdown report" is rendered, not shown with its ## and ** markers
    heading = by_testid(screen, "result-text-insights").find_element("css selector", "h2")
    assert heading.text == "Text insights" and "**" not in result() and "## " not in result()
    from studio.registry.samples import sample_pipelines
    from studio.ui.home_page import example_inputs

    sample = next(p for p in sample_pipelines() if p.id == "text-insights")
    text = next(iter(example_inputs(sample).values()))
    assert by_testid(screen, "input-text-insights").text == f"Input: {text}"  # what it ran on, beside the result
    by_testid(screen, "result-text-insights-copy").click()
    screen.should_contain("Output copied.")


def test_a_keyed_sample_dry_runs_with_the_key_masked_and_leads_to_settings(screen: Screen, memory_keyring):
    screen.open("/")
    card = by_testid(screen, "sample-content-enhancement")
    assert "needs" in card.text  # the badge says a key is missing
    assert not card.find_elements("css selector", '[data-testid="run-content-enhancement"]')
    by_testid(screen, "dry-run-content-enhancement").click()
    screen.wait_for(lambda: "Would cost about $" in by_testid(screen, "dry-cost-content-enhancement").text)
    wire = by_testid(screen, "wire-draft").text
    assert "POST https://api.openai.com/v1/chat/completions" in wire
    assert "authorization: Bearer <OPENAI_API_KEY>" in wire and '"model": "gpt-4o-mini"' in wire
    # Pygments marks what its http lexer cannot parse as .err, drawn as a red box round each line
    assert not by_testid(screen, "wire-draft").find_elements("css selector", ".err")
    link = by_testid(screen, "set-key-content-enhancement")
    assert "OPENAI_API_KEY" in link.text
    link.click()
    screen.wait_for(lambda: screen.selenium.current_url.endswith("/settings"))


def test_a_dry_run_without_an_example_input_says_what_to_do_on_this_page(screen: Screen, memory_keyring):
    screen.open("/")
    by_testid(screen, "dry-run-data-processing-chain").click()
    answer = lambda: by_testid(screen, "answer-data-processing-chain").text  # noqa: E731
    screen.wait_for(lambda: "required input 'data'" in answer())
    assert "--input" not in answer() and "Open on canvas to give one" in answer()  # a page, not the CLI


def test_the_registry_is_one_click_away(screen: Screen):
    screen.open("/")
    by_testid(screen, "nav-registry").click()
    screen.should_contain("openai/gpt-4o-mini")
    screen.should_contain("anthropic/claude-haiku-4-5")
