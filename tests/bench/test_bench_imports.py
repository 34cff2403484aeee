"""Every name a bench imports from the studio (or from another bench) still exists. The benches
are run by hand, and most import inside their functions: a renamed function (export_calls)
left bench_analytics.py broken for a session with nothing failing. Read with `ast`, so the
imports inside functions are checked too, without running any bench."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted((ROOT / "bench").glob("*.py"))
OURS = ("studio", "bench")


def imported_names(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of each import of our own modules; name None for `import module`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in OURS:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names if alias.name.split(".")[0] in OURS]
    return found


def test_the_benches_import_something_of_ours():
    assert len(BENCHES) >= 10 and sum(len(imported_names(p)) for p in BENCHES) >= 30


@pytest.mark.parametrize("path", BENCHES, ids=lambda p: p.name)
def test_what_a_bench_imports_exists(path):
    missing = []
    for line, module, name in imported_names(path):
        try:
            imported = importlib.import_module(module)
        except ImportError as e:
            missing.append(f"{path.name}:{line}: {module} ({e})")
            continue
        if name is not None and name != "*" and not hasattr(imported, name):
            try:  # a submodule: `from studio.providers import local`
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{path.name}:{line}: {module}.{name}")
    assert not missing, "\n".join(missing)
