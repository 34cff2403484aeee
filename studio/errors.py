"""Errors a person can meet. Each carries one sentence that says what is wrong and what to do.

The CLI prints `str(err)` on one line and exits 1; the UI shows it as a notification.
Anything that is not a `UserError` is a bug in the studio, not the user's fault.
"""


class UserError(Exception):
    """A problem the user can fix; the message is shown to them as it is."""


class NotFound(UserError):
    """An id that names nothing in the registry."""


class CorruptFile(UserError):
    """A file under IOM_HOME that cannot be read; names the file and the fault."""

    def __init__(self, path, fault: str):
        self.path = path
        self.fault = fault
        super().__init__(f"{path} could not be read ({fault}); fix or delete that file.")
