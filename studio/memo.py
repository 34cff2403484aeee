"""Answers kept per object, for the questions asked about the same schema on every call."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def per_object(fn: Callable[[Any], T], limit: int = 512) -> Callable[[Any], T]:
    """`fn(obj)` computed once per object (by identity: schemas are dicts, which do not hash).
    The memo keeps each object alive, so its id cannot be reused by another; it is emptied
    when it reaches `limit`."""
    memo: dict[int, tuple[Any, T]] = {}

    @functools.wraps(fn)
    def remembered(obj: Any) -> T:
        found = memo.get(id(obj))
        if found is not None and found[0] is obj:
            return found[1]
        if len(memo) >= limit:
            memo.clear()
        answer = fn(obj)
        memo[id(obj)] = (obj, answer)
        return answer
    return remembered
