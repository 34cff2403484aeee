"""Jinja2 in its sandbox, with limits: prompt templates, transform templates, router conditions.

The sandbox refuses access to Python internals (attributes starting with an underscore,
unsafe callables), so a pipeline file cannot reach the studio's process. On top of it every
template and condition runs within limits, because it runs on the engine's event loop where
nothing can interrupt it: the text it produces, the loop steps it takes, and the time it takes
(`TIME_LIMIT_S`, or what is left of the node's own timeout). Repetition (`'a' * n`, `x ** n`,
`'%0999999d' % 1`) and padding or range arguments are checked before the work is done; loops
are counted as they go. Any failure inside — a breach, `1/0`, comparing text with a number —
is one sentence naming the node, never a traceback. Undefined variables render as empty
(a template may use `{{ audience or 'everyone' }}`).
"""

from __future__ import annotations

import contextvars
import operator
import re
import time
from functools import lru_cache
from typing import Any, Iterable, Iterator

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from studio.errors import UserError

OUTPUT_LIMIT = 1_000_000  # characters a template may produce (and any one string it builds)
STEP_LIMIT = 1_000_000  # loop iterations in one render
TIME_LIMIT_S = 2.0  # seconds one render may take (less if the node's timeout is nearer)
NUMBER_LIMIT = 10_000  # digits of an integer a template may build with **

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("template_deadline", default=None)
_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\d{7,})|\{[^}]*:[^}]*?(\d{7,})")


class TemplateLimit(Exception):
    """A template went past one of the limits above."""


class TooLong(TemplateLimit):
    """A template produced or built text past `OUTPUT_LIMIT`: often one input was already
    that long, which `render` then names (`_too_long_input`)."""


def node_deadline(timeout_s: float | None) -> contextvars.Token:
    """Templates rendered from here on (in this task) must finish within the node's timeout."""
    return _deadline.set(time.monotonic() + timeout_s if timeout_s else None)


class _Budget:
    def __init__(self) -> None:
        limit = TIME_LIMIT_S
        node_end = _deadline.get()
        if node_end is not None:
            limit = max(0.0, min(limit, node_end - time.monotonic()))
        self.limit_s = limit
        self.ends = time.monotonic() + limit
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > STEP_LIMIT:
            raise TemplateLimit(f"it took more than {STEP_LIMIT:,} loop steps (the limit)")
        if not self.steps & 1023:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.ends:
            raise TemplateLimit(f"it ran longer than {self.limit_s:.3g} s (the limit, or what was left of the node's timeout)")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _current() -> _Budget:
    budget = _budget.get()
    if budget is None:  # outside render(): a fresh budget (validation, tests)
        budget = _Budget()
        _budget.set(budget)
    return budget


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _check_big_int(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > OUTPUT_LIMIT:
        raise TemplateLimit(f"{what} {value:,} is over the limit of {OUTPUT_LIMIT:,}")


class BoundedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and isinstance(n, int) and size * max(n, 0) > OUTPUT_LIMIT:
                    raise TemplateLimit(f"repeating a value {n:,} times would exceed the limit of {OUTPUT_LIMIT:,} items")
        elif op == "**":
            if isinstance(left, (int, float)) and isinstance(right, (int, float)) and abs(left) > 1 \
                    and right * len(str(int(abs(left)))) > NUMBER_LIMIT:
                raise TemplateLimit(f"a power would have more than {NUMBER_LIMIT:,} digits (the limit)")
        elif op == "%":
            if isinstance(left, str) and _FORMAT_WIDTH.search(left):
                raise TemplateLimit("a format width is over a million characters (the limit)")
        elif op == "+":
            if (_size(left) or 0) + (_size(right) or 0) > OUTPUT_LIMIT:
                raise TooLong(f"a value is longer than {OUTPUT_LIMIT:,} characters (the limit)")
        return {"*": operator.mul, "**": operator.pow, "%": operator.mod, "+": operator.add}[op](left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        if isinstance(getattr(__obj, "__self__", None), str) and getattr(__obj, "__name__", "") in PADDING:
            for value in (*args, *kwargs.values()):
                _check_big_int(value, "a width of")
        _current().check_time()
        result = super().call(__context, __obj, *args, **kwargs)
        if (_size(result) or 0) > OUTPUT_LIMIT:
            raise TooLong(f"a value is longer than {OUTPUT_LIMIT:,} characters (the limit)")
        owner = getattr(__obj, "__self__", None)  # l.extend(l) grows l in place and returns None
        if isinstance(owner, (list, dict, set)) and len(owner) > OUTPUT_LIMIT:
            owner.clear()  # (give the memory back now, not when the render's frames go)
            raise TemplateLimit(f"a list or mapping grew past {OUTPUT_LIMIT:,} items (the limit)")
        return result

    def _parse(self, source, name, filename):
        """Every `for` loop iterates through `iom_bounded`, which counts its steps, and every
        `~` concatenation passes through `iom_sized` (Jinja has no hook for that operator)."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "iom_bounded", [], [], None, None, lineno=loop.lineno)
        for parent in list(tree.find_all(nodes.Node)):
            if isinstance(parent, nodes.Filter) and parent.name == "iom_sized":
                continue
            for field in parent.fields:
                value = getattr(parent, field, None)
                if isinstance(value, nodes.Concat):
                    setattr(parent, field, _sized(value))
                elif isinstance(value, list):
                    setattr(parent, field, [_sized(v) if isinstance(v, nodes.Concat) else v for v in value])
        return tree


def _sized(node: nodes.Concat) -> nodes.Filter:
    return nodes.Filter(node, "iom_sized", [], [], None, None, lineno=node.lineno)


def _check_size(value: Any) -> Any:
    if (_size(value) or 0) > OUTPUT_LIMIT:
        raise TooLong(f"it built a value longer than {OUTPUT_LIMIT:,} characters (the limit)")
    return value


def _bounded(iterable: Iterable) -> Iterator:
    budget = _current()
    for item in iterable:
        budget.step()
        yield item


def _bounded_range(*args: int) -> range:
    for value in args:
        _check_big_int(value, "a range bound of")
    r = range(*args)
    if len(r) > STEP_LIMIT:
        raise TemplateLimit(f"a range of {len(r):,} steps is over the limit of {STEP_LIMIT:,}")
    return r


PADDING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "indent"})


def _guard_filter(name: str, fn):
    skip = 2 if hasattr(fn, "jinja_pass_arg") else 1  # the context or environment, then the value

    def guarded(*args, **kwargs):
        if name in PADDING:
            for value in (*args[skip:], *kwargs.values()):
                _check_big_int(value, "a width of")
        if name == "format" and len(args) >= skip and isinstance(args[skip - 1], str) \
                and _FORMAT_WIDTH.search(args[skip - 1]):
            raise TemplateLimit("a format width is over a million characters (the limit)")
        result = fn(*args, **kwargs)
        if (_size(result) or 0) > OUTPUT_LIMIT:
            raise TooLong(f"a value is longer than {OUTPUT_LIMIT:,} characters (the limit)")
        return result

    for attr in ("jinja_pass_arg",):  # keep Jinja's context/environment passing marks
        if hasattr(fn, attr):
            setattr(guarded, attr, getattr(fn, attr))
    return guarded


_env = BoundedEnvironment(autoescape=False, keep_trailing_newline=True)
_env.filters = {name: _guard_filter(name, fn) for name, fn in _env.filters.items()}
_env.filters["iom_bounded"] = _bounded
_env.filters["iom_sized"] = _check_size
_env.globals["range"] = _bounded_range


def environment() -> BoundedEnvironment:
    """The one bounded sandbox; whoever parses or analyses templates uses it (its intercepted
    operators also keep Jinja from folding `'a' * 300000000` while compiling)."""
    return _env


@lru_cache(maxsize=1024)
def _template(source: str):
    return _env.from_string(source)


@lru_cache(maxsize=1024)
def _renderer(source: str):
    """(template, its globals as one plain dict). Jinja's `generate` merges the template's
    globals, a ChainMap, into every render's context — about a third of a short prompt's
    render; the sandbox's globals are fixed at import, so they are flattened once."""
    template = _template(source)
    return template, dict(template.globals)


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
    except (RecursionError, MemoryError):
        return "is too deeply nested to parse"
    except Exception as e:  # noqa: BLE001 — any other parser failure is still the template's fault
        return f"does not parse ({type(e).__name__}: {e})"
    return None


def render(source: str, variables: dict[str, Any], *, where: str) -> str:
    """The template's text, within the limits; any failure is one sentence naming `where`."""
    token = _budget.set(_Budget())
    try:
        budget = _budget.get()
        parts, size = [], 0
        template, globals_ = _renderer(source)
        # what Template.generate does, with the flattened globals (same names, same lookups)
        context = _env.context_class(_env, {**globals_, **variables}, template.name, template.blocks, globals=globals_)
        for chunk in template.root_render_func(context):
            size += len(chunk)
            if size > OUTPUT_LIMIT:
                raise TooLong(f"it produced more than {OUTPUT_LIMIT:,} characters (the limit)")
            budget.check_time()
            parts.append(chunk)
        return "".join(parts)
    except Exception as e:  # noqa: BLE001 — whatever a template does wrong is the template's fault
        raise _as_user_error(e, where, "template", variables, source) from None
    finally:
        _budget.reset(token)


def evaluate(expression: str, variables: dict[str, Any], *, where: str) -> Any:
    token = _budget.set(_Budget())
    try:
        return _expression(expression)(**variables)
    except Exception as e:  # noqa: BLE001
        raise _as_user_error(e, where, "condition", variables, "{{ (" + expression + ") }}") from None
    finally:
        _budget.reset(token)


def _too_long_input(variables: dict[str, Any], source: str) -> tuple[str, int] | None:
    """The longest input the template uses that alone is over `OUTPUT_LIMIT` (as text, the way
    a template shows it), with its length; None when there is none (an input the template does
    not use is not the cause). Paid only when a render has failed."""
    try:
        used = meta.find_undeclared_variables(_env.parse(source))
    except Exception:  # noqa: BLE001 — it parsed to render; if not, name no input
        return None
    longest = None
    for name, value in variables.items():
        if name not in used:
            continue
        if isinstance(value, (str, bytes)):
            size = len(value)
        elif isinstance(value, (list, tuple, dict)):
            size = len(str(value))
        else:
            continue
        if size > OUTPUT_LIMIT and (longest is None or size > longest[1]):
            longest = (name, size)
    return longest


def _as_user_error(e: BaseException, where: str, what: str, variables: dict[str, Any] | None = None,
                   source: str = "") -> UserError:
    too_long = _too_long_input(variables or {}, source) if isinstance(e, TooLong) else None
    if too_long is not None:  # "make it do less work" said nothing of the input that was the cause
        name, size = too_long
        return UserError(f"{where}: the {what} was stopped because its input {name!r} is {size:,} characters, "
                         f"over the limit of {OUTPUT_LIMIT:,} for the text a {what} builds; pass a shorter {name!r} "
                         f"(cut it, or summarise it in an earlier node) or leave it out of the {what}.")
    if isinstance(e, TemplateLimit):
        return UserError(f"{where}: the {what} was stopped because {e}; make it do less work.")
    if isinstance(e, RecursionError):
        return UserError(f"{where}: the {what} recursed too deeply; fix the {what}.")
    if isinstance(e, MemoryError):
        return UserError(f"{where}: the {what} needed more memory than there is; make it do less work.")
    detail = str(e).strip() or type(e).__name__
    if not isinstance(e, UserError) and type(e).__module__ == "builtins":
        detail = f"{type(e).__name__}: {detail}"
    return UserError(f"{where}: the {what} failed ({detail[:300]}); fix the {what}.")
