"""Running from the canvas with the real engine: validation problems are pinned to their
nodes and nothing runs; an offline sample runs with every node turning done, and the
inspector shows a node's resolved inputs; a run held by a slow loopback provider is
cancelled; a dry run shows the plan and its cost estimate."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from studio.core import Studio
from studio.spec.calls import CANONICAL_SCHEMAS
from studio.spec.model import ModelSpec
from tests.browser.canvas_helpers import click_node, make_pipeline, wait_nodes
from tests.fakes.provider_server import GATE, FakeProvider, Reply, sse


def open_run_panel(screen: Screen, pipeline_id: str, nodes: int) -> None:
    screen.open(f"/pipelines/{pipeline_id}")
    wait_nodes(screen, nodes)
    run_tab(screen)


def run_tab(screen: Screen) -> None:
    screen.selenium.find_element(By.XPATH, "//div[contains(@class,'q-tab ')][.//div[text()='Run']]").click()
    screen.wait(0.6)  # the tab panel slides in


def summary(screen: Screen) -> str:
    return screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run-summary]").text


def done_count(screen: Screen) -> int:
    return len(screen.selenium.find_elements(By.CSS_SELECTOR, '.iom-node-status[data-state="done"]'))


def test_validation_problems_show_on_their_nodes_before_anything_runs(screen: Screen):
    s = Studio()
    broken = s.pipelines.get("review-triage")
    broken = broken.model_copy(update={"id": "broken-triage"}, deep=True)
    broken.node("sentiment").model = "gone/model"
    make_pipeline(broken)
    s.close()
    open_run_panel(screen, "broken-triage", 7)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()
    screen.wait_for(lambda: summary(screen).startswith("Not run: 1 problem(s)"))
    node = screen.selenium.find_element(By.CSS_SELECTOR, '.vue-flow__node[data-id="sentiment"] .iom-node-problem')
    assert "gone/model" in node.text and "not in the registry" in node.text
    assert done_count(screen) == 0


def test_an_empty_required_input_is_marked_and_said_before_anything_runs(screen: Screen):
    open_run_panel(screen, "review-triage", 7)
    text = screen.selenium.find_element(By.CSS_SELECTOR, "textarea[data-testid=run-input-text]")
    text.send_keys(Keys.CONTROL, "a")
    text.send_keys(Keys.DELETE)
    screen.wait(0.5)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()
    screen.wait_for(lambda: summary(screen) == "Not run: fill in 'text' (required), then run again.")
    assert screen.selenium.find_elements(By.CSS_SELECTOR, ".q-tab-panel .q-field--error")
    assert done_count(screen) == 0


def test_an_offline_sample_runs_and_every_node_turns_done(screen: Screen):
    open_run_panel(screen, "review-triage", 7)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()  # the sample's example input
    screen.wait_for(lambda: "Run succeeded" in summary(screen))
    screen.wait_for(lambda: done_count(screen) == 7)
    click_node(screen, "sentiment")
    screen.wait_for(lambda: "Node sentiment: succeeded" in screen.find_by_css("[data-testid=inspected-node]").text)
    screen.should_contain("compound")
    assert "breakfast was cold" in screen.find_by_css("[data-testid=node-inputs]").text  # what went in


def test_cancel_stops_a_run_held_by_a_slow_provider(screen: Screen):
    llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
    with FakeProvider() as fake:
        chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
        fake.reply("/v1/chat/completions", Reply(chunks=[*sse(chunk, done=False), GATE, "data: [DONE]\n\n"]))
        s = Studio()
        s.models.save(ModelSpec(id="loop/slow", name="Slow", provider="ollama", api="openai-chat",
                                endpoint=fake.url("/v1/chat/completions"), model="m", input_schema=llm_in,
                                output_schema=llm_out))
        flow = s.pipelines.get("review-triage").model_copy(update={"id": "slow-flow"}, deep=True)
        flow.nodes = [n for n in flow.nodes if n.id in ("in", "out")]
        flow.edges = []
        from studio.spec import Edge, Node
        flow.nodes.insert(1, Node(id="slow", kind="model", model="loop/slow", prompt="{{ text }}"))
        flow.edges = [Edge(id="e1", source="in", target="slow"), Edge(id="e2", source="slow", target="out",
                                                                       source_port="text", target_port="text")]
        make_pipeline(flow)
        s.close()
        open_run_panel(screen, "slow-flow", 3)
        screen.selenium.find_element(By.XPATH, "//label[.//div[text()='text *']]//textarea").send_keys("wait")
        screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()
        screen.wait_for(lambda: len(fake.requests) == 1 and done_count(screen) == 1)
        screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=cancel]").click()
        screen.wait_for(lambda: summary(screen) == "Cancelled.")
        fake.gate.set()


def test_dry_run_shows_the_plan_and_cost_estimate(screen: Screen):
    open_run_panel(screen, "content-enhancement", 5)
    topic = screen.selenium.find_element(By.XPATH, "//label[.//div[text()='topic *']]//textarea")
    topic.send_keys(Keys.CONTROL, "a")  # over the sample's example topic
    topic.send_keys("tea")
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=dry-run]").click()
    screen.wait_for(lambda: summary(screen).startswith("Dry run · $") and summary(screen).endswith("estimated"))
    plan = screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=dry-run-plan]")
    screen.wait_for(lambda: "Would cost about $" in plan.text)  # as the start page shows it, not raw JSON
    assert "draft → openai/gpt-4o-mini" in plan.text and "Runs as:" in plan.text
    wire = screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=wire-draft]").text
    assert "POST https://api.openai.com/v1/chat/completions" in wire and "about tea" in wire
    assert "authorization: Bearer <OPENAI_API_KEY>" in wire
    assert not screen.selenium.find_elements(By.CSS_SELECTOR, ".iom-node-status")  # nothing ran
