"""The one exception type a user can cause, and how it is worded."""

from __future__ import annotations


class B2BError(Exception):
    """A problem with the user's input or set-up, not a bug.

    The message says what is wrong, where (file, row, column) and how to fix it. The CLI prints it
    and exits with code 2; the dashboard shows it as an error box.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.fix = fix
        super().__init__(message if not fix else f"{message}\n  fix: {fix}")


class StoreBusy(B2BError):
    """Another process is writing the database right now."""
