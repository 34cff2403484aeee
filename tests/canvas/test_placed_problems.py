"""The canvas's run summary when validation refuses a run: a problem of the whole pipeline has
no node to show on, so the summary says it (it said "shown on the nodes" and showed nothing)."""

from studio.engine.validate import Problem
from studio.ui.canvas.run_panel import placed_problems


def test_problems_of_the_whole_pipeline_are_said_in_the_summary():
    problems = [Problem("a", "names model 'no/such-model', which is not in the registry; register it or pick another"),
                Problem("pipeline", "the pipeline has no output node; add one"),
                Problem("a", "is a model node without a prompt")]
    on_canvas, text = placed_problems(problems, {"a", "e1"})
    assert on_canvas == {"a": "names model 'no/such-model', which is not in the registry; register it or pick "
                              "another; is a model node without a prompt"}
    assert text == "Not run: 3 problem(s): the pipeline has no output node; add one; 2 more shown on the nodes."


def test_problems_all_on_nodes_keep_the_short_summary():
    on_canvas, text = placed_problems([Problem("e1", "joins ports of different types")], {"a", "e1"})
    assert on_canvas == {"e1": "joins ports of different types"}
    assert text == "Not run: 1 problem(s), shown on the nodes."


def test_an_edges_problem_is_said_in_words_not_only_drawn_red():
    """An edge's problem was counted in "shown on the nodes" and drawn as a red line only."""
    problems = [Problem("e1", "joins ports of different types"), Problem("a", "is a model node without a prompt")]
    on_canvas, text = placed_problems(problems, {"a", "e1"}, {"e1": "in.count → a.system"})
    assert on_canvas == {"e1": "joins ports of different types", "a": "is a model node without a prompt"}
    assert text == ("Not run: 2 problem(s): the edge in.count → a.system joins ports of different types; "
                    "1 more shown on the nodes.")
