"""Errors a person can meet. Each carries one sentence that says what is wrong and what to do.

The CLI prints `str(err)` on one line and exits 1; the UI shows it as a notification.
Anything that is not a `UserError` is a bug in the studio, not the user's fault, but for the
system's refusals (a full disk, a folder it may not write): their words, by `system_error_sentence`.
"""

import errno
from typing import Iterable, TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A problem the user can fix; the message is shown to them as it is."""


class NotFound(UserError):
    """An id that names nothing in the registry."""


class ChangedElsewhere(UserError):
    """A save over a document that changed (or went) since it was read: by the CLI, another tab,
    another tool. Saving anyway would silently undo that change, so the caller decides."""

    def __init__(self, kind: str, ident: str, *, deleted: bool):
        self.kind, self.ident, self.deleted = kind, ident, deleted
        what = "deleted" if deleted else "changed"
        super().__init__(f"{kind} {ident!r} was {what} elsewhere (the command line, another tab) since this page "
                         f"opened it; reload to see {'that' if not deleted else 'what is left'}, or save yours "
                         f"{'again' if deleted else 'over it (the other version is kept as a backup)'}.")


class CorruptFile(UserError):
    """A file under IOM_HOME that cannot be read; names the file and the fault."""

    def __init__(self, path, fault: str):
        self.path = path
        self.fault = fault
        super().__init__(f"{path} could not be read ({fault}); fix or delete that file.")


# What to do about the system errors a person can meet that are no fault of the studio's.
_REMEDIES = {errno.ENOSPC: "free space on that disk", errno.EDQUOT: "free space on that disk",
             errno.EACCES: "make it writable", errno.EPERM: "make it writable", errno.EROFS: "make it writable"}


def disk_fault(e: OSError) -> str:
    """What the operating system said, in a few words: "No space left on device"."""
    return e.strerror or str(e)


def system_error_sentence(e: OSError) -> str:
    """An OSError no caller turned into a sentence of its own (a full disk, a folder it may not
    write): the system's words, the file, and what to do where that is known."""
    where = f" ({e.filename})" if e.filename else ""
    remedy = _REMEDIES.get(e.errno)
    return f"{disk_fault(e)}{where}" + (f"; {remedy}, then try again." if remedy else ".")


def named_twice(values: Iterable[T]) -> T | None:
    """The first value given a second time (an id in an import file, a column, a scorer), for
    the sentence that names it; None when each is given once."""
    seen: set = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


def jmespath_fault(e: Exception) -> str:
    """A JMESPath error in one line: its own text is three (the message, the expression, a caret
    under the fault), which broke the one-sentence rule wherever it was shown."""
    lines = str(e).splitlines() or [type(e).__name__]
    head = lines[0].removeprefix("Invalid jmespath expression: ").rstrip(": ")
    caret = lines[2].find("^") if len(lines) > 2 else -1  # under the quoted expression: its column, 1-based
    return f"{head} at column {caret}" if caret > 0 and "column" not in head else head
