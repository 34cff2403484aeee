"""Jinja2 in its sandbox: prompt templates, transform templates, router conditions.

The sandbox refuses access to Python internals (attributes starting with an underscore,
unsafe callables), so a pipeline file cannot reach the studio's process. Undefined
variables render as empty (a template may use `{{ audience or 'everyone' }}`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from studio.errors import UserError

_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=1024)
def _template(source: str):
    return _env.from_string(source)


@lru_cache(maxsize=1024)
def _expression(source: str):
    return _env.compile_expression(source)


def syntax_error(source: str | None, *, expression: bool = False) -> str | None:
    """One sentence if the template (or expression) does not parse, else None."""
    if not source:
        return None
    try:
        _expression(source) if expression else _template(source)
    except TemplateSyntaxError as e:
        return f"does not parse (line {e.lineno}: {e.message})"
    return None


def render(source: str, variables: dict[str, Any], *, where: str) -> str:
    try:
        return _template(source).render(**variables)
    except TemplateError as e:
        raise UserError(f"{where}: the template failed ({e}); fix the template.") from None


def evaluate(expression: str, variables: dict[str, Any], *, where: str) -> Any:
    try:
        return _expression(expression)(**variables)
    except TemplateError as e:
        raise UserError(f"{where}: the condition failed ({e}); fix it.") from None
